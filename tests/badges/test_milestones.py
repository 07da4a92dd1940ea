"""What earns each badge, on the demo data with a few more events: a certification (one award per
certification), and a streak broken by a corrected signature (the first full streak counts)."""

from __future__ import annotations

from hub.badges.issue import credential_of
from hub.badges.records import load_award
from hub.documents.services import services_of
from tests.test_journeys import DEMO_ACTION


def cert(ref: str, name: str, code: str, at: str) -> dict:
    return {"type": "certification.awarded", "occurred_at": at, "source_id": f"cert-{ref}-{code}",
            "learner": {"ref": ref}, "action": DEMO_ACTION,
            "data": {"certification": name, "code": code, "result": "admis"}}


async def awarded(hub) -> dict[tuple[str, str], list[dict]]:
    out: dict[tuple[str, str], list[dict]] = {}
    await hub.project()
    for state in await hub.store.call(hub.store.journeys, action=DEMO_ACTION):
        for fact in state.get("badges", []):
            if fact["type"] == "badge.awarded":
                out.setdefault((state["learner"]["name"], fact["badge"]), []).append(fact)
    return out


async def test_certifications_and_a_broken_streak(badges_hub):
    hub = badges_hub
    assert "badges" in {job.name for job in hub.scheduled_jobs()}  # the daemon awards them too
    await hub.append([cert("apprenant-01", "Développeur web", "RNCP37674", "2026-10-20T09:00:00+02:00")], source="demo")
    # Chloé's signature of Wednesday morning is corrected into an absence: her streak restarts on Thursday
    signature = next(e for e in await hub.store.call(lambda: list(hub.store.iter_events(types=["attendance.signed"])))
                     if e["source_id"] == "sig-apprenant-02-2026-10-07")
    await hub.append([{"type": "attendance.absent", "occurred_at": "2026-10-07T12:00:00+02:00",
                       "source_id": "correction-apprenant-02-2026-10-07", "learner": {"ref": "apprenant-02"},
                       "action": DEMO_ACTION, "supersedes": signature["id"],
                       "data": {"date": "2026-10-07", "half_day": "am", "justified": False}}], source="demo")
    await hub.award_badges()
    found = await awarded(hub)
    (camille,) = found[("Camille Dubois", "certification")]
    assert camille["occurrence"] == f"{DEMO_ACTION}:RNCP37674" and camille["milestone"] == "certification"
    assert not any(badge == "certification" for (_, badge) in found if _ != "Camille Dubois")
    (chloe,) = found[("Chloé N'Diaye", "assiduite-5")]
    record = await load_award(services_of(hub), chloe["event"])
    # Thursday 8 to Wednesday 14 October: five mornings in a row, the last ending at 12:30 in Lyon
    assert credential_of(hub.config, record)["validFrom"] == "2026-10-14T10:30:00Z"
    (theo,) = found[("Théo Garnier", "assiduite-5")]  # a morning without the trainer's co-signature still counts
    assert theo["at"].startswith("2026-10-09")

    await hub.append([cert("apprenant-01", "Anglais professionnel", "RS5443", "2026-10-21T09:00:00+02:00")],
                     source="demo")
    second = await hub.award_badges()
    assert [a["badge"] for a in second.awarded] == ["certification"]
    assert len((await awarded(hub))[("Camille Dubois", "certification")]) == 2  # one per certification
    assert (await hub.award_badges()).awarded == []

