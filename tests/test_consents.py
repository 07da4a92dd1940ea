"""Consents (hub.consents): recorded with their version, withdrawable, honoured at ingest (funnel
events of a person who withdrew are never appended) and by routes (``when.consent``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.consents.record import choices_of, record_consent, withdrawn_consents
from hub.errors import ConfigError, HubError
from tests.conftest import event

ROOT = Path(__file__).resolve().parents[1]
SINKS = """
connectors:
  all: {kind: ndjson_out, directory: out/all}
  employer: {kind: ndjson_out, directory: out/employer}
routes:
  - {name: everything, from: "*", to: all}
  - {name: employer-progress, from: "*", when: {types: ["lms.progress"], consent: employer_progress}, to: employer}
"""
OPT_IN = """
  consents:
    purposes:
      funnel_tracking:
        version: "2"
        label: Suivi commercial
        text: Nous enregistrons les pages de formation que vous consultez.
        default: refused
        collects: ["prospect.*"]
      employer_progress:
        label: Progression partagée avec votre employeur
        text: Votre employeur reçoit votre assiduité.
        recipient: employer
"""


def contact(i: int, n: int = 0, **over) -> dict:
    """A CRM contact of learner u<i> (the funnel: prospect.contact_created)."""
    return event(i, "prospect.contact_created", source_id=f"contact-{i}-{n}",
                 data={"email": f"u{i}@example.fr", "first_name": "Prénom"}, **over)


def view(i: int, n: int = 0) -> dict:
    return event(i, "prospect.program_viewed", source_id=f"view-{i}-{n}", data={"program": "react", "consent": True})


async def learner(hub, i: int) -> str | None:
    return await hub.store.call(hub.store.learner_by_key, f"email:u{i}@example.fr")


class Log:
    def __init__(self):
        self.records: list[tuple[str, str, dict]] = []

    def __getattr__(self, level):
        return lambda message, **kw: self.records.append((level, message, kw))

    def bind(self, **kw):
        return self


async def test_a_withdrawal_stops_the_collection_of_the_persons_funnel_events(make_hub, each_store_url):
    hub = await make_hub(SINKS, store_url=each_store_url)
    log = hub.ingestor.log = Log()
    first = await hub.append([contact(1), contact(2)], source=None)  # default: given (the built-in purposes)
    assert first.appended == 2 and first.withheld == {}
    u1 = await learner(hub, 1)
    await record_consent(hub.append, hub.config.hub.consents, u1, "funnel_tracking", give=False, channel="cli")
    before = await hub.store.call(hub.store.count_events)

    after = await hub.append([contact(1, 1), view(1, 1), event(1, source_id="progress-1"), contact(2, 1)], source=None)

    assert after.withheld == {0: "funnel_tracking:withdrawn", 1: "funnel_tracking:withdrawn"}
    assert after.ids[0] is None and after.ids[1] is None and after.new == [False, False, True, True]
    assert after.appended == 2 and after.duplicates == 0
    assert await hub.store.call(hub.store.count_events) == before + 2  # the progress and the other person's contact
    stored = {e["source_id"] for e in await hub.store.call(lambda: list(hub.store.iter_events()))}
    assert "contact-1-1" not in stored and "view-1-1" not in stored and {"progress-1", "contact-2-1"} <= stored
    metric = hub.metrics.withheld.labels("api", "funnel_tracking:withdrawn")._value.get()
    assert metric == 2
    (level, message, kw), = [r for r in log.records if r[1].startswith("events withheld")]
    assert kw == {"withheld": 2, "reasons": {"api prospect.contact_created funnel_tracking:withdrawn": 1,
                                             "api prospect.program_viewed funnel_tracking:withdrawn": 1}}
    assert "u1" not in repr(log.records) and "example.fr" not in repr(log.records)  # nothing about the person

    await record_consent(hub.append, hub.config.hub.consents, u1, "funnel_tracking", give=True, channel="web")
    again = await hub.append([contact(1, 2)], source=None)
    assert again.appended == 1 and again.withheld == {}


async def test_opt_in_collects_nothing_before_consent_not_even_a_learner(make_hub):
    hub = await make_hub(SINKS, hub_extra=OPT_IN)
    result = await hub.append([contact(3)], source=None)
    assert result.withheld == {0: "funnel_tracking:undecided"} and result.appended == 0
    assert await learner(hub, 3) is None  # the withheld event created no learner, no key
    await hub.append([event(3, source_id="registered", type="enrolment.registered", data={})], source=None)
    u3 = await learner(hub, 3)
    assert (await hub.append([contact(3, 1)], source=None)).withheld == {0: "funnel_tracking:undecided"}
    await record_consent(hub.append, hub.config.hub.consents, u3, "funnel_tracking", give=True, channel="cli")
    assert (await hub.append([contact(3, 2)], source=None)).appended == 1


async def test_a_new_version_of_the_text_asks_for_consent_again(make_hub):
    hub = await make_hub(SINKS, hub_extra=OPT_IN)
    await hub.append([event(4, source_id="registered", type="enrolment.registered", data={})], source=None)
    u4 = await learner(hub, 4)
    await record_consent(hub.append, hub.config.hub.consents, u4, "funnel_tracking", give=True, channel="cli",
                         version="1")  # consented to the text's first version; the configured one is 2
    assert (await hub.append([contact(4)], source=None)).withheld == {0: "funnel_tracking:outdated"}
    choice = next(c for c in await choices_of(hub.store, hub.config.hub.consents, u4) if c.purpose == "funnel_tracking")
    assert choice.status == "outdated" and not choice.in_force and choice.decision.version == "1"
    await record_consent(hub.append, hub.config.hub.consents, u4, "funnel_tracking", give=True, channel="cli")
    assert (await hub.append([contact(4, 1)], source=None)).appended == 1


async def test_a_consent_event_counts_for_the_events_after_it_in_the_same_batch(make_hub):
    hub = await make_hub(SINKS)
    withdrawn = event(5, "consent.withdrawn", source_id="consent-5",
                      data={"purpose": "funnel_tracking", "version": "1", "channel": "connector"})
    result = await hub.append([contact(5), withdrawn, contact(5, 1)], source=None)
    assert result.new == [True, True, False] and result.withheld == {2: "funnel_tracking:withdrawn"}


async def test_a_purpose_the_organisation_does_not_allow_collects_nothing_even_anonymous(make_hub):
    hub = await make_hub(SINKS, hub_extra=OPT_IN.replace("default: refused", "allowed: false"))
    anonymous = {k: v for k, v in view(6).items() if k != "learner"}
    result = await hub.append([anonymous, contact(6)], source=None)
    assert result.withheld == {0: "funnel_tracking:not_allowed", 1: "funnel_tracking:not_allowed"}
    with pytest.raises(HubError, match="not allowed by the organisation"):
        await record_consent(hub.append, hub.config.hub.consents, "01J0000000000000000000000A", "funnel_tracking",
                             give=True, channel="cli")


async def test_anonymous_views_are_collected_with_the_visitors_own_consent(make_hub):
    hub = await make_hub(SINKS, hub_extra=OPT_IN)  # opt-in: a person's consent; a visitor has none to give here
    anonymous = {k: v for k, v in view(7).items() if k != "learner"}
    assert (await hub.append([anonymous], source=None)).appended == 1


async def test_the_employer_route_carries_progress_only_while_the_consent_is_given(make_hub, each_store_url):
    hub = await make_hub(SINKS, store_url=each_store_url, start=False)  # no delivery: the outbox shows what is queued
    await hub.append([event(1, source_id="p0")], source=None)
    u1 = await learner(hub, 1)

    async def employer_rows() -> list[str]:
        claimed = await hub.store.call(hub.store.claim, "employer", limit=100, now=1e12, owner="t", lease_seconds=5)
        await hub.store.call(hub.store.release, [c.outbox_id for c in claimed])
        return [c.event["source_id"] for c in claimed]

    assert await employer_rows() == []  # employer_progress: refused by default
    consents = hub.config.hub.consents
    await record_consent(hub.append, consents, u1, "employer_progress", give=True, channel="web", scope="12345678200010")
    await hub.append([event(1, source_id="p1"), event(2, source_id="p-other"),
                      {**event(1, source_id="p-anonymous"), "learner": None}], source=None)
    assert await employer_rows() == ["p1"]
    await record_consent(hub.append, consents, u1, "employer_progress", give=False, channel="web")
    await hub.append([event(1, source_id="p2")], source=None)
    assert await employer_rows() == ["p1"]
    (gone,) = await withdrawn_consents(hub.store, "employer_progress")
    assert gone.learner_id == u1 and gone.withdrawn_at.tzinfo is not None
    assert await withdrawn_consents(hub.store, "funnel_tracking") == []


async def test_a_route_naming_an_unknown_purpose_is_a_configuration_error(make_hub):
    with pytest.raises(ConfigError, match="route 'x': when.consent names unknown purposes \\['employer_sharing'\\]"):
        await make_hub("""
            connectors:
              all: {kind: ndjson_out, directory: out/all}
            routes:
              - {name: x, from: "*", when: {consent: employer_sharing}, to: all}
            """)


async def test_an_unknown_purpose_is_a_clear_error(make_hub):
    hub = await make_hub(SINKS)
    with pytest.raises(HubError, match="unknown consent purpose 'newsletter' \\(hub.consents.purposes: "
                                       "employer_progress, funnel_tracking\\)"):
        await record_consent(hub.append, hub.config.hub.consents, "01J0000000000000000000000A", "newsletter",
                             give=True, channel="cli")


def parcours(*args, cwd):
    return subprocess.run([sys.executable, "-m", "hub.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "PARCOURS_CONFIG": "hub.yaml"}, timeout=120)


@pytest.mark.slow
async def test_the_cli_lists_gives_and_withdraws(make_hub, workdir):
    hub = await make_hub(SINKS)
    await hub.append([event(1, source_id="p0")], source=None)
    u1 = await learner(hub, 1)

    listed = parcours("consent", "list", "email:U1@example.fr", "--json", cwd=workdir)
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)
    assert found["learner"] == u1
    assert {c["purpose"]: (c["status"], c["in_force"]) for c in found["consents"]} == {
        "funnel_tracking": ("undecided", True), "employer_progress": ("undecided", False)}

    given = parcours("consent", "give", u1, "--purpose", "employer_progress", "--scope", "ACME SA", cwd=workdir)
    assert given.returncode == 0 and given.stdout.startswith(f"consent given: {u1} employer_progress"), given.stderr
    withdrawn = parcours("consent", "withdraw", u1, "--purpose", "funnel_tracking", cwd=workdir)
    assert withdrawn.returncode == 0, withdrawn.stderr
    text = parcours("consent", "list", u1, cwd=workdir).stdout
    assert "employer_progress    in force" in text and "scope: ACME SA" in text and "(cli)" in text
    assert "funnel_tracking      not in force  withdrawn v1" in text

    events = [e for e in await hub.store.call(lambda: list(hub.store.iter_events(types=["consent.given"])))]
    assert events[0]["data"]["channel"] == "cli" and events[0]["data"]["by"] and events[0]["learner_id"] == u1

    unknown = parcours("consent", "give", "email:nobody@example.fr", "--purpose", "funnel_tracking", cwd=workdir)
    assert unknown.returncode == 1 and "no learner 'email:nobody@example.fr'" in unknown.stderr
    bad = parcours("consent", "give", u1, "--purpose", "newsletter", cwd=workdir)
    assert bad.returncode == 1 and "unknown consent purpose 'newsletter'" in bad.stderr
    check = parcours("check", cwd=workdir)
    assert "employer-progress    * -> employer when lms.progress; consent employer_progress" in check.stdout, check.stdout
