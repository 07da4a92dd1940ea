"""Edusign to certificate, end to end against the fake Edusign: ``parcours sync`` → ``journey show``
→ ``proofs check`` → ``documents issue``. A trainer who signs the sheet after the slot closed
(common: at the end of the day) co-signs every learner of the half-day, and a learner who signs
late sees that co-signature: the gap closes and the certificate follows."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import zoneinfo

import holidays
from click.testing import CliRunner

from hub.cli import main
from tests.conftest import BASE_HUB
from tests.documents.conftest import HUB_EXTRA
from tests.fakes.edusign_fake import FakeEdusign, running, sample_dataset

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
ACTION = "ACT-EMARGE-01"


def recent_training_day() -> dt.date:
    """A working day of the last week (the connector re-reads a slot for `settle`, 7 days)."""
    day = dt.datetime.now(PARIS).date() - dt.timedelta(days=1)
    while day.weekday() >= 5 or day in holidays.France(years=day.year):
        day -= dt.timedelta(days=1)
    return day


def utc(day: dt.date, clock: str) -> str:
    local = dt.datetime.combine(day, dt.time.fromisoformat(clock), PARIS)
    return local.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def slot(day: dt.date) -> dict:
    """A morning slot the trainer locked without signing it; Chloé did not sign (yet)."""
    return {
        "ID": "crs-e2e", "NAME": "Accueil", "START": utc(day, "09:00"), "END": utc(day, "12:30"), "LOCKED": True,
        "TRAINING_ID": ACTION, "PROFESSOR": "prof-1", "PROFESSOR_SIGNATURE": None,
        "STUDENTS": [
            {"studentId": "stu-1", "state": True, "timestamp": utc(day, "09:03"), "signature": "{base}/signatures/s1.png"},
            {"studentId": "stu-2", "state": False, "timestamp": None, "signature": None},
        ],
    }


def config(fake_url: str, day: dt.date) -> str:
    action = {"title": "Accueil sécurité", "start": day.isoformat(), "end": (day + dt.timedelta(days=60)).isoformat(),
              "objectives": ["Connaître les consignes de sécurité du site"],
              "half_days": [{"date": day.isoformat(), "half_day": "am", "start": "09:00", "end": "12:30"}]}
    return (BASE_HUB + HUB_EXTRA
            + "connectors:\n  emargements:\n    kind: edusign\n"
            + f"    base_url: {fake_url}/v1\n    api_key: ${{file:secrets/edusign}}\n"
            + f"    start_date: {(day - dt.timedelta(days=1)).isoformat()}\n    retries: 0\n"
            + f"actions:\n  {ACTION}: {json.dumps(action)}\n")


async def parcours(*args) -> tuple[int, str]:
    """The command in-process, in a thread: this event loop serves the fake Edusign."""
    result = await asyncio.wait_for(asyncio.to_thread(CliRunner().invoke, main, [str(a) for a in args]), timeout=120)
    return result.exit_code, result.stdout


def statuses(shown: str) -> dict[str, str]:
    return {f"{h['date']}/{h['half_day']}": h["status"] for journey in json.loads(shown) for h in journey["half_days"]}


async def test_a_trainer_signing_after_the_slot_closed_cosigns_and_the_certificate_follows(workdir):
    day = recent_training_day()
    dataset = sample_dataset()
    dataset["courses"] = [slot(day)]
    (workdir / "secrets" / "edusign").write_text("test-edusign-key")
    async with running(FakeEdusign(dataset=dataset)) as fake:
        (workdir / "hub.yaml").write_text(config(fake.url, day), encoding="utf-8")
        cfg = ("--config", "hub.yaml")
        assert (await parcours("keys", "generate", *cfg))[0] == 0
        code, out = await parcours("sync", "emargements", *cfg)
        assert code == 0, out
        key = f"{day.isoformat()}/am"
        code, shown = await parcours("journey", "show", "email:camille.dubois@example.fr", *cfg, "--json")
        assert code == 0 and statuses(shown) == {key: "signed_without_trainer"}
        code, out = await parcours("proofs", "check", *cfg, "--json")
        assert code == 1
        assert [(f["learner"]["name"], g["code"]) for f in json.loads(out) for g in f["gaps"]] == [
            ("Camille Dubois", "half_day_no_trainer_signature")]  # Chloé is recorded absent
        code, out = await parcours("documents", "issue", *cfg, "--action", ACTION, "--out", "out", "--json")
        assert code == 1 and not json.loads(out)["issued"]

        # at the end of the day the trainer signs the sheet, Chloé signs late, and Hugo, added to the
        # slot afterwards, signs: the slot is re-read (within `settle`)
        course = fake.dataset["courses"][0]
        course["PROFESSOR_SIGNATURE"] = "{base}/signatures/prof-1-e2e.png"
        course["STUDENTS"][1].update(state=True, timestamp=utc(day, "17:45"), signature="{base}/signatures/s2.png")
        course["STUDENTS"].append({"studentId": "stu-3", "state": True, "timestamp": utc(day, "17:50"),
                                   "signature": "{base}/signatures/s3.png"})
        code, out = await parcours("sync", "emargements", *cfg, "--json")
        assert code == 0 and json.loads(out)["pull"]["appended"] == 3, out  # the trainer's signature, Chloé's, Hugo's

        for learner in ("camille.dubois", "chloe.ndiaye", "hugo.lefevre"):
            code, shown = await parcours("journey", "show", f"email:{learner}@example.fr", *cfg, "--json", "--explain")
            assert code == 0 and statuses(shown) == {key: "signed"}, (learner, shown)
            (journey,) = json.loads(shown)
            assert journey["realised_hours"]["total"]["value"] == "3.5"
        assert await parcours("proofs", "check", *cfg) == (0, "no proof missing\n")
        code, out = await parcours("documents", "issue", *cfg, "--action", ACTION, "--out", "out", "--json")
        assert code == 0, out
        issued = json.loads(out)["issued"]
        assert sorted(d["learner_name"] for d in issued) == ["Camille Dubois", "Chloé N'Diaye", "Hugo Lefèvre"]
        assert all(d["type"] == "certificat_realisation" and not d.get("proof_gaps") for d in issued)
