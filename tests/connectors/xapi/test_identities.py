"""xAPI accounts are (homePage, name): account 42 of two LMSs is two people, and a hub upgraded
from the time they were keyed by name alone moves on without merging or splitting anyone silently."""

from __future__ import annotations

import copy

import pytest

from tests.connectors.xapi.test_hub import events, lrs_config, secrets
from tests.fakes import xapi_statements as S
from tests.fakes.xapi_lrs import FakeLrs

OTHER = "https://autre-lms.example.com"


def download(statement_id: str, home: str, name: str = "42", when: str = "2026-10-05T16:05:00+02:00") -> dict:
    statement = copy.deepcopy(S.DOWNLOADED)
    statement.update(id=statement_id, timestamp=when,
                     actor={"objectType": "Agent", "account": {"homePage": home, "name": name}})
    return statement


def sid(n: int) -> str:
    return f"f1a1e2f0-3333-4c1e-9d2a-{n:012d}"


@pytest.fixture
async def lrs():
    fake = FakeLrs(max_limit=50)
    async with fake.running():
        yield fake


async def learners_of(hub, source: str = "lrs") -> dict[str, str]:
    """statement id -> hub learner id"""
    return {r["source_id"]: r["learner_id"] for r in await events(hub, source)}


async def test_the_same_account_name_on_two_sites_is_two_learners(make_hub, workdir, lrs):
    lrs.add([download(sid(1), S.MOODLE + "/"), download(sid(2), OTHER), download(sid(3), "https://MOODLE.example.fr")])
    secrets(workdir, lrs)
    hub = await make_hub(lrs_config(lrs))
    assert (await hub.pull("lrs")).appended == 3
    owners = await learners_of(hub)
    assert owners[sid(1)] == owners[sid(3)] != owners[sid(2)]  # the homePage decides, written either way
    moodle = await hub.store.call(hub.store.learner, owners[sid(1)])
    assert "src:lrs/moodle.example.fr:42" in moodle["keys"]
    other = await hub.store.call(hub.store.learner, owners[sid(2)])
    assert "src:lrs/autre-lms.example.com:42" in other["keys"]
    assert await hub.store.call(hub.store.learner_conflicts) == []
    (stored,) = [r for r in await events(hub, "lrs") if r["source_id"] == sid(2)]
    assert stored["learner"]["site"] == OTHER


def before_sites(i: int) -> dict:
    """An event as the xapi connector wrote it before sites were part of learner keys."""
    return {"type": "lms.resource_downloaded", "occurred_at": f"2026-09-0{i}T10:00:00+02:00", "source": "lrs",
            "source_id": sid(100 + i), "learner": {"ref": "42", "ids": {"xapi_account": "42"}},
            "data": {"resource": f"{S.MOODLE}/mod/resource/view.php?id={i}"}}


async def test_an_upgraded_hub_keeps_one_sites_history_and_asks_when_two_sites_claim_it(make_hub, workdir, lrs):
    secrets(workdir, lrs)
    hub = await make_hub(lrs_config(lrs))
    old = (await hub.append([before_sites(1), before_sites(2)], source=None)).ids  # the store before the upgrade
    (legacy,) = {r["learner_id"] for r in await events(hub, "lrs")}
    assert await hub.store.call(hub.store.learner_by_key, "src:lrs:42") == legacy

    lrs.add([download(sid(1), S.MOODLE)])
    assert (await hub.pull("lrs")).appended == 1
    owners = await learners_of(hub)
    assert owners[sid(1)] == legacy  # the old key was used by one site so far: its history goes on
    assert await hub.store.call(hub.store.learner_conflicts) == []
    assert "src:lrs/moodle.example.fr:42" in (await hub.store.call(hub.store.learner, legacy))["keys"]

    lrs.add([download(sid(2), OTHER, when="2026-10-05T16:06:00+02:00"),
             download(sid(3), OTHER, when="2026-10-05T16:07:00+02:00")])
    assert (await hub.pull("lrs")).appended == 2
    owners = await learners_of(hub)
    other = owners[sid(2)]
    assert other != legacy and owners[sid(3)] == other  # not merged silently…
    (conflict,) = await hub.store.call(hub.store.learner_conflicts)  # …but put to the admin, once
    assert conflict["learners"] == [other, legacy]
    assert conflict["keys"] == ["src:lrs/autre-lms.example.com:42", "src:lrs:42", "src:lrs/moodle.example.fr:42"]
    assert "src:lrs:42 was written before sites were told apart" in conflict["reason"]

    # the sealed events are untouched: the old ones keep their learner, the key still resolves
    stored = {r["id"]: r for r in await events(hub, "lrs")}
    assert all(stored[i]["learner_id"] == legacy and "site" not in stored[i]["learner"] for i in old)
    assert await hub.store.call(hub.store.learner_by_key, "src:lrs:42") == legacy

    await hub.store.call(hub.store.resolve_learner_conflict, conflict["id"], merge_into=None, at=0.0)
    lrs.add([download(sid(4), OTHER, when="2026-10-05T16:08:00+02:00"),
             download(sid(5), S.MOODLE, when="2026-10-05T16:09:00+02:00")])
    assert (await hub.pull("lrs")).appended == 2
    owners = await learners_of(hub)
    assert (owners[sid(4)], owners[sid(5)]) == (other, legacy)
    assert await hub.store.call(hub.store.learner_conflicts) == []
