"""A trainer's signature for a half-day co-signs every learner of that action and half-day,
whenever it arrives: before or after the learners' own signatures, and for journeys already
projected as well as those created afterwards (on SQLite and on PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json

from hub.journeys import catch_up, rebuild, reproject_learner
from hub.journeys.proofs import DEFAULT_RULES, check

ACTION = {"title": "Habilitation électrique", "start": "2026-11-23", "end": "2026-12-31",
          "half_days": [{"date": "2026-11-23", "half_day": "am", "start": "09:00", "end": "12:00"},
                        {"date": "2026-11-23", "half_day": "pm", "start": "13:00", "end": "17:00"}]}
ACTION_DAY_AFTER = dt.date(2026, 11, 24)
CONFIG = "actions:\n  HAB-1: " + json.dumps(ACTION) + "\n  HAB-2: " + json.dumps(ACTION) + "\n"


def learner_signed(ref: str, half_day: str = "am", action: str = "HAB-1", **data) -> dict:
    return {"type": "attendance.signed", "occurred_at": "2026-11-23T09:05:00+01:00", "source_id": f"{action}-{ref}-{half_day}",
            "learner": {"ref": ref, "email": f"{ref}@example.fr", "name": ref.title()}, "action": action,
            "data": {"date": "2026-11-23", "half_day": half_day, "signer": "learner", **data}}


def trainer_signed(source_id: str, half_day: str = "am", action: str = "HAB-1", **extra) -> dict:
    return {"type": "attendance.signed", "occurred_at": "2026-11-23T18:10:00+01:00", "source_id": source_id,
            "action": action, "data": {"date": "2026-11-23", "half_day": half_day, "signer": "trainer",
                                       "signer_name": "Sophie Lambert", "trainer_cosigned": True}, **extra}


async def statuses(hub, action: str = "HAB-1") -> dict[str, dict[str, str]]:
    reports = await hub.journey_reports(action=action)
    return {r.learner_name: {h.half_day.key: h.status for h in r.half_days} for r in reports}


async def test_a_late_trainer_signature_cosigns_every_learner_of_the_half_day(make_hub, each_store_url, monkeypatch):
    from hub.journeys import projection

    monkeypatch.setattr(projection, "FAN_OUT_CHUNK", 1)  # the stored journeys are updated a chunk at a time
    hub = await make_hub(CONFIG, store_url=each_store_url)
    await hub.append([learner_signed("alice"), learner_signed("bruno"), learner_signed("alice", "pm"),
                      learner_signed("chloe", action="HAB-2")], source=None)
    before = await statuses(hub)
    assert before["Alice"] == {"2026-11-23/am": "signed_without_trainer", "2026-11-23/pm": "signed_without_trainer"}
    gaps = check(await hub.journey_reports(action="HAB-1"), DEFAULT_RULES, today=ACTION_DAY_AFTER)
    assert [(found.learner_name, g.half_day) for found in gaps for _r, g in found.gaps
            if g.code == "half_day_no_trainer_signature"] == [("Alice", "am"), ("Alice", "pm"), ("Bruno", "am")]

    # the trainer signs the morning at the end of the day: the journeys already projected follow
    (trainer_id,) = (await hub.append([trainer_signed("trainer-am")], source=None)).ids
    after = await statuses(hub)
    assert after["Alice"] == {"2026-11-23/am": "signed", "2026-11-23/pm": "signed_without_trainer"}
    assert after["Bruno"]["2026-11-23/am"] == "signed"
    assert (await statuses(hub, "HAB-2"))["Chloe"]["2026-11-23/am"] == "signed_without_trainer"  # another action
    alice = next(r for r in await hub.journey_reports(action="HAB-1") if r.learner_name == "Alice")
    morning = next(h for h in alice.half_days if h.half_day.key == "2026-11-23/am")
    assert trainer_id in morning.events and "co-signed by the trainer" in morning.rule

    # a learner who signs after the trainer (a new journey) sees the co-signature too
    await hub.append([learner_signed("dora")], source=None)
    assert (await statuses(hub))["Dora"]["2026-11-23/am"] == "signed"
    gaps = check(await hub.journey_reports(action="HAB-1"), DEFAULT_RULES, today=ACTION_DAY_AFTER)
    assert [(found.learner_name, g.half_day) for found in gaps for _r, g in found.gaps
            if g.code == "half_day_no_trainer_signature"] == [("Alice", "pm")]

    # the incremental projection, a rebuild and a learner's re-projection agree
    incremental = await hub.store.call(hub.store.journeys)
    await hub.store.call(rebuild, hub.store)
    assert await hub.store.call(hub.store.journeys) == incremental
    dora = next(s["learner_id"] for s in incremental if s["learner"]["name"] == "Dora")
    await hub.store.call(reproject_learner, hub.store, dora)
    assert await hub.store.call(hub.store.journeys) == incremental
    assert await hub.store.call(catch_up, hub.store) == 0


async def test_a_corrected_trainer_signature_no_longer_cosigns(make_hub, each_store_url):
    hub = await make_hub(CONFIG, store_url=each_store_url)
    (wrong,) = (await hub.append([trainer_signed("trainer-wrong")], source=None)).ids
    await hub.append([learner_signed("alice"), learner_signed("alice", "pm")], source=None)
    assert (await statuses(hub))["Alice"]["2026-11-23/am"] == "signed"
    # the sheet was the afternoon's: a correction supersedes it, for every journey of the action
    await hub.append([trainer_signed("trainer-fixed", "pm", supersedes=wrong)], source=None)
    assert (await statuses(hub))["Alice"] == {"2026-11-23/am": "signed_without_trainer", "2026-11-23/pm": "signed"}
    incremental = await hub.store.call(hub.store.journeys)
    await hub.store.call(rebuild, hub.store)
    assert await hub.store.call(hub.store.journeys) == incremental

