"""Proof completeness before invoicing, and dropout alerts with their follow-up (indicator 12)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
import json
import subprocess
import sys
from zoneinfo import ZoneInfo

from hub.journeys.alerts import AlertsConfig, evaluate
from hub.hookspecs import hookimpl
from hub.journeys.proofs import Gap, ProofRule, check
from tests.test_journeys import DEMO_ACTION, demo_hub

PARIS = ZoneInfo("Europe/Paris")
ACTION = {
    "title": "Sécurité incendie", "start": "2026-11-23", "end": "2026-11-27",
    "pattern": {"am": {"start": "09:00", "end": "12:00"}, "pm": {"start": "13:00", "end": "17:00", "modality": "foad_asynchrone"}},
}


def learner_event(i, type_, data=None, **kw):
    return {"type": type_, "occurred_at": "2026-11-20T10:00:00+01:00", "source_id": f"e{i}", "action": "SST-1",
            "learner": {"ref": "u1", "email": "u1@example.fr", "name": "Zoé L'Hermite"}, "data": data or {}, **kw}


async def ongoing_hub(make_hub):
    hub = await make_hub("actions:\n  SST-1: " + json.dumps(ACTION) + "\n")
    await hub.append([
        learner_event(1, "enrolment.registered"),
        learner_event(2, "funding.approved", {"funder": "opco-ep", "funder_kind": "opco"}),
        learner_event(3, "enrolment.started", {"date": "2026-11-23"}),
        learner_event(4, "attendance.signed", {"date": "2026-11-23", "half_day": "am", "trainer_cosigned": True},
                      occurred_at="2026-11-23T09:05:00+01:00"),
    ], source=None)
    return hub


async def test_default_rules_on_the_demo(make_hub, workdir):
    hub = await demo_hub(make_hub, workdir)
    found = await hub.proof_gaps(action=DEMO_ACTION)
    (theo,) = found
    assert theo.learner_name == "Théo Garnier" and theo.funders == ["opco-atlas"]
    (rule, gap), = theo.gaps
    assert gap.code == "half_day_no_trainer_signature" and gap.date == "2026-10-07" and gap.half_day == "am"
    assert await hub.proof_gaps(funder="cpf") == []


async def test_gaps_of_an_enrolment_in_progress(make_hub):
    hub = await ongoing_hub(make_hub)
    reports = await hub.journey_reports(action="SST-1")
    found = check(reports, hub.plugins.proof_rules(), today=dt.date(2026, 11, 26))
    codes = [g.code for _, g in found[0].gaps]
    # Tuesday and Wednesday mornings unsigned, no agreement, FOAD afternoons without any trace
    assert codes.count("half_day_unsigned") == 2
    assert "started_without_agreement" in codes and "foad_no_connection_trace" in codes
    after = check(reports, hub.plugins.proof_rules(), today=dt.date(2026, 12, 1))
    assert "no_exit_recorded" in [g.code for _, g in after[0].gaps]


async def test_funder_rules_come_from_plugins(make_hub):
    class AtlasRules:
        @hookimpl
        def register_proof_rules(self):
            def needs_invoice(report, today):
                return [Gap("no_invoice", "no invoice recorded", "issue the invoice")]
            return [ProofRule("atlas-invoice", needs_invoice, funders=("opco-*",))]

    hub = await ongoing_hub(make_hub)
    hub.plugins.pm.register(AtlasRules(), name="atlas-rules")
    reports = await hub.journey_reports(action="SST-1")
    found = check(reports, hub.plugins.proof_rules(), funder="opco-ep", today=dt.date(2026, 11, 24))
    assert ("atlas-invoice", "no_invoice") in [(r, g.code) for r, g in found[0].gaps]


async def test_a_gap_found_by_two_exports_of_one_funder_is_listed_once(make_hub):
    """The OPCO's statement and its invoice bundle check the same rule: one gap, both rules named."""
    def unsigned(report, today):
        return [Gap("opco_half_day_not_billable", "2026-11-23 morning: not billable", "co-sign it", "2026-11-23", "am")]

    hub = await ongoing_hub(make_hub)
    rules = [ProofRule("atlas.billable", unsigned), ProofRule("atlas-invoices.billable", unsigned),
             ProofRule("other", lambda report, today: [Gap("other_gap", "another one", "fix it")])]
    (found,) = check(await hub.journey_reports(action="SST-1"), rules, today=dt.date(2026, 11, 24))
    assert [(rule, gap.code) for rule, gap in found.gaps] == [
        ("atlas.billable, atlas-invoices.billable", "opco_half_day_not_billable"), ("other", "other_gap")]


async def test_alert_rules(make_hub):
    hub = await ongoing_hub(make_hub)
    (report,) = await hub.journey_reports(action="SST-1", today=dt.date(2026, 11, 24))
    cfg = AlertsConfig()
    # Tuesday 09:20: not yet 30 minutes late; Monday's FOAD afternoon has no trace: 3 h of 7 due
    assert report.attendance_rate.value == Decimal("42.9")
    assert [a.rule for a in evaluate(report, cfg, dt.datetime(2026, 11, 24, 9, 20, tzinfo=PARIS), PARIS)] == ["attendance_below"]
    at_945 = evaluate(report, cfg, dt.datetime(2026, 11, 24, 9, 45, tzinfo=PARIS), PARIS)
    assert [a.rule for a in at_945] == ["unsigned_half_day", "attendance_below"]
    assert "Zoé L'Hermite n'a pas émargé (2026-11-24 matin, début 09:00)" == at_945[0].message
    # no FOAD activity at all since the start, a week later
    later = evaluate(report, cfg, dt.datetime(2026, 11, 27, 9, 0, tzinfo=PARIS) + dt.timedelta(days=0), PARIS)
    assert "inactive" not in [a.rule for a in later]
    cfg_short = AlertsConfig(inactive_after="2d")
    assert "inactive" in [a.rule for a in evaluate(report, cfg_short, dt.datetime(2026, 11, 26, 9, 0, tzinfo=PARIS), PARIS)]


async def test_alerts_are_events_raised_once_and_followed_up(make_hub):
    hub = await ongoing_hub(make_hub)
    now = dt.datetime(2026, 11, 24, 9, 45, tzinfo=PARIS)
    assert await hub.raise_alerts(now) == 2
    assert await hub.raise_alerts(now + dt.timedelta(minutes=5)) == 0  # same situation, same alerts
    alerts = list(await hub.store.call(lambda: list(hub.store.iter_events(types=["alert.raised"]))))
    assert {a["data"]["rule"] for a in alerts} == {"unsigned_half_day", "attendance_below"}
    await hub.project()
    states = await hub.store.call(hub.store.journeys, action="SST-1")
    assert len([f for f in states[0]["alerts"] if f["type"] == "alert.raised"]) == 2  # same learner's journey


def test_cli_alerts_and_proofs(tmp_path):
    def parcours(*args):
        return subprocess.run([sys.executable, "-m", "hub.cli", *args, "--config", "hub.yaml"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)

    today = dt.date.today()
    action = {**ACTION, "start": (today - dt.timedelta(days=3)).isoformat(), "end": (today + dt.timedelta(days=3)).isoformat(),
              "pattern": {"weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "am": {"start": "00:00", "end": "00:30"}}}
    (tmp_path / "inbox").mkdir()
    events = [learner_event(1, "enrolment.started", {"date": action["start"]}),
              learner_event(2, "enrolment.agreement_signed", {})]
    (tmp_path / "inbox" / "a.ndjson").write_text("\n".join(json.dumps(e) for e in events) + "\n")
    (tmp_path / "hub.yaml").write_text(
        "hub: {data_dir: var, store: {url: 'sqlite:///var/hub.db'}, alerts: {lookback: 10d}}\n"
        "connectors:\n  inbox: {kind: file_drop, path: inbox, settle_seconds: 0, schedule: {every: 1h}}\n"
        "actions:\n  SST-1: " + json.dumps(action) + "\n")
    run = parcours("run", "--once")
    assert "new dropout alert(s)" in run.stdout, run.stdout + run.stderr
    listing = json.loads(parcours("alerts", "list", "--open", "--json").stdout)
    assert listing and all(a["learner_name"] == "Zoé L'Hermite" for a in listing)
    first = listing[0]["event"]
    done = parcours("alerts", "follow-up", first, "--note", "appel de la stagiaire, reprise lundi", "--by", "Claire")
    assert done.returncode == 0, done.stderr
    after = json.loads(parcours("alerts", "list", "--json").stdout)
    followed = next(a for a in after if a["event"] == first)
    assert followed["followed_up"]["action_taken"] == "appel de la stagiaire, reprise lundi"
    assert followed["followed_up"]["by"] == "Claire"
    gaps = parcours("proofs", "check", "--json")
    assert gaps.returncode == 1 and json.loads(gaps.stdout)[0]["gaps"][0]["code"] == "half_day_unsigned"
