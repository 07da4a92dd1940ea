"""The Edusign connector against a fake Edusign API (tests/fakes/edusign_fake.py)."""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import time

import pytest

from connectors.edusign import Edusign
from hub.connector import PullResult
from hub.errors import AuthError, PermanentError, RateLimitedError
from hub.events import EventTypeRegistry
from hub.testing import close_context, get_connector_test_class, make_context
from tests.fakes.edusign_fake import PNG, FakeEdusign, running, sample_dataset

KEY = "test-edusign-key"
CONFIG = {
    "base_url": "http://127.0.0.1:9/v1", "api_key": KEY, "start_date": "2026-10-01",
    "retries": 1, "retry_backoff": "10ms", "retry_max_wait": "2s", "timeout": "5s",
}


@contextlib.asynccontextmanager
async def edusign_peer(folder, fake: FakeEdusign | None = None):
    async with running(fake) as fake:
        yield {"base_url": fake.url + "/v1"}


@contextlib.asynccontextmanager
async def failing_edusign(status, folder):
    fake = FakeEdusign()
    fake.fail_all = status
    fake.retry_after = "120"  # longer than retry_max_wait: raised at once for the hub to reschedule
    async with running(fake) as fake:
        yield {"base_url": fake.url + "/v1"}


TestEdusignContract = get_connector_test_class(
    Edusign, CONFIG, pull_peer=edusign_peer, failing_peer=failing_edusign,
)


# ---------------------------------------------------------------------------- helpers


async def full_sync(connector, cursor=None) -> tuple[list[dict], list, object]:
    events, rejects = [], []
    for _ in range(50):
        result: PullResult = await connector.pull(cursor)
        events.extend(result.events)
        rejects.extend(result.rejects)
        cursor = result.cursor
        if not result.has_more:
            return events, rejects, cursor
    raise AssertionError("the sync did not finish")


@contextlib.asynccontextmanager
async def connected(tmp_path, fake: FakeEdusign | None = None, **overrides):
    async with running(fake) as fake:
        config = Edusign.Config.model_validate({"kind": "edusign", **CONFIG, "base_url": fake.url + "/v1", **overrides})
        context = make_context(tmp_path, "edusign")
        try:
            yield Edusign("edusign", config, context), fake
        finally:
            await close_context(context)


def by_id(events: list[dict]) -> dict[str, dict]:
    return {e["source_id"]: e for e in events}


# ---------------------------------------------------------------------------- mapping


async def test_slots_map_to_half_days_with_cosignature_modality_and_proofs(tmp_path):
    async with connected(tmp_path, student_id_namespace="moodle_user") as (connector, _fake):
        events, _rejects, _cursor = await full_sync(connector)
    EventTypeRegistry().validate_batch(copy.deepcopy(events))
    got = by_id(events)
    morning = got["course:crs-101:student:stu-1:signed"]
    assert morning["type"] == "attendance.signed"
    assert morning["occurred_at"] == "2026-10-05T07:04:00Z"
    assert morning["action"] == "tr-react"  # default mapping: the course's TRAINING_ID
    assert morning["learner"] == {"ref": "stu-1", "email": "camille.dubois@example.fr", "name": "Camille Dubois",
                                  "ids": {"edusign_student": "stu-1", "moodle_user": "moodle-17"}}
    data = morning["data"]
    # 07:00 UTC is 09:00 in Paris: a morning slot on the local date
    assert (data["date"], data["half_day"], data["modality"]) == ("2026-10-05", "am", "presentiel")
    assert data["signer"] == "learner" and data["signer_name"] == "Camille Dubois"
    assert data["trainer_cosigned"] is True and data["trainer_name"] == "Sophie Lambert"
    assert data["signed_at"] == "2026-10-05T07:04:00Z" and data["proof"] == "edusign:signature-image"
    assert data["details"]["course_id"] == "crs-101" and data["details"]["classroom"] == "Salle Lumière"

    afternoon = got["course:crs-102:student:stu-1:signed"]["data"]
    assert (afternoon["half_day"], afternoon["modality"]) == ("pm", "distanciel_synchrone")  # 13:30 local, ZOOM

    late = got["course:crs-101:student:stu-2:signed"]["data"]
    assert late["details"]["delay_minutes"] == 5


async def test_signature_images_and_records_are_stored_as_evidence(tmp_path):
    async with connected(tmp_path) as (connector, _fake):
        events, _r, _c = await full_sync(connector)
        blobs = connector.context.blobs
        got = by_id(events)
        image, record = got["course:crs-101:student:stu-1:signed"]["evidence"]
        assert image["media_type"] == "image/png"
        assert blobs.get(image["sha256"]) == PNG + b"stu-1-crs-101.png"  # the file Edusign linked to
        assert record["media_type"] == "application/json"
        assert b'"studentId":"stu-1"' in blobs.get(record["sha256"])
        # a signature given inline (data: URL, base64) is decoded
        inline, _record = got["course:crs-101:student:stu-2:signed"]["evidence"]
        assert blobs.get(inline["sha256"]).startswith(PNG)
        # an absence has the Edusign record as its proof
        (absent_record,) = got["course:crs-101:student:stu-3:absent"]["evidence"]
        assert absent_record["media_type"] == "application/json"


async def test_absences_after_the_slot_justified_when_edusign_says_so(tmp_path):
    async with connected(tmp_path) as (connector, _fake):
        events, _r, _c = await full_sync(connector)
    got = by_id(events)
    unjustified = got["course:crs-101:student:stu-3:absent"]
    assert unjustified["type"] == "attendance.absent"
    assert unjustified["occurred_at"] == "2026-10-05T10:30:00Z"  # the end of the slot
    assert unjustified["data"]["justified"] is False and unjustified["data"]["half_day"] == "am"
    justified = got["course:crs-101:student:stu-4:absent:justified"]["data"]
    assert justified["justified"] is True and justified["reason"] == "Arrêt maladie"
    assert justified["details"]["absence_id"] == "abs-77"
    assert "course:crs-102:student:stu-2:absent" in got


async def test_trainers_signatures_are_events_without_learner(tmp_path):
    async with connected(tmp_path) as (connector, _fake):
        events, _r, _c = await full_sync(connector)
    trainers = [e for e in events if e["data"].get("signer") == "trainer"]
    assert sorted(e["source_id"] for e in trainers) == [
        "course:crs-101:professor:prof-1:signed", "course:crs-102:professor:prof-1:signed",
        "course:crs-201:professor:prof-1:signed"]  # prof-2 never signed crs-101 nor crs-103
    assert all("learner" not in e and e["data"]["signer_name"] == "Sophie Lambert" for e in trainers)
    got = by_id(events)
    assert got["course:crs-103:student:stu-4:signed"]["data"]["trainer_cosigned"] is False


async def test_malformed_records_are_rejected_and_the_rest_of_the_page_ingested(tmp_path):
    async with connected(tmp_path) as (connector, fake):
        events, rejects, _c = await full_sync(connector)
    errors = {r.error: r for r in rejects}
    broken = next(r for e, r in errors.items() if "crs-broken" in e)
    assert broken.stage == "map" and "START" in broken.error
    assert broken.payload == next(c for c in fake.dataset["courses"] if c["ID"] == "crs-broken")  # the original record
    entry = next(r for e, r in errors.items() if "crs-103" in e)
    assert "STUDENTS[0].state" in entry.error and entry.payload["ID"] == "crs-103"
    with pytest.raises(ValueError):
        connector.map_record(entry.payload)  # replay maps the same record: still malformed
    assert "course:crs-103:student:stu-4:signed" in by_id(events)  # its good neighbour is ingested
    assert len(rejects) == 2  # the broken course is returned by every query but dead-lettered once


async def test_unknown_student_keeps_its_edusign_id(tmp_path):
    async with connected(tmp_path) as (connector, _fake):
        events, _r, _c = await full_sync(connector)
    gone = by_id(events)["course:crs-201:student:stu-gone:signed"]
    assert gone["learner"] == {"ref": "stu-gone", "ids": {"edusign_student": "stu-gone"}}


async def test_people_are_looked_up_once(tmp_path):
    async with connected(tmp_path) as (connector, fake):
        await full_sync(connector)
    assert fake.count("/v1/student/stu-1") == 1
    assert fake.count("/v1/professor/prof-1") == 1


async def test_action_mapping_by_name_pattern_and_table(tmp_path):
    mapping = {"name_pattern": r"^(?P<action>ACT-\d{4}-[A-Z]+-\d+)", "field": "TRAINING_ID",
               "values": {"tr-other": "ACT-OTHER"}, "default": "ACT-UNKNOWN"}
    dataset = sample_dataset()
    dataset["courses"][4]["NAME"] = "Tests"  # no action in the name: falls back to the field
    dataset["courses"][4]["TRAINING_ID"] = "tr-other"
    async with connected(tmp_path, FakeEdusign(dataset=dataset), action=mapping) as (connector, _fake):
        events, _r, _c = await full_sync(connector)
    got = by_id(events)
    assert got["course:crs-101:student:stu-1:signed"]["action"] == "ACT-2026-REACT-01"
    assert got["course:crs-201:student:stu-1:signed"]["action"] == "ACT-OTHER"


# ---------------------------------------------------------------------------- the cursor over time

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.timezone.utc)


def _z(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")


async def test_learners_are_decided_after_the_slot_and_late_changes_are_read(tmp_path):
    dataset = sample_dataset()
    slot = {
        "ID": "crs-live", "NAME": "Atelier", "START": _z(NOW - dt.timedelta(hours=4)), "END": _z(NOW - dt.timedelta(hours=1)),
        "LOCKED": False, "TRAINING_ID": "tr-react", "PROFESSOR": "prof-1", "PROFESSOR_SIGNATURE": "{base}/signatures/p.png",
        "STUDENTS": [
            {"studentId": "stu-1", "state": True, "timestamp": _z(NOW - dt.timedelta(hours=3, minutes=58)),
             "signature": "{base}/signatures/s1.png"},
            {"studentId": "stu-2", "state": False, "signature": None, "absenceId": None},
        ],
    }
    dataset["courses"] = [slot]
    clock = [NOW]
    async with connected(tmp_path, FakeEdusign(dataset=dataset), start_date="2026-11-19") as (connector, fake):
        connector._now = lambda: clock[0]
        first, _r, cursor = await full_sync(connector)
        # the slot ended an hour ago and is not locked: only the trainer's signature is final
        assert [e["source_id"] for e in first] == ["course:crs-live:professor:prof-1:signed"]
        assert "crs-live" in cursor["open"]

        clock[0] = NOW + dt.timedelta(hours=2)  # past absent_after (2 h after the end)
        second, _r, cursor = await full_sync(connector, cursor)
        assert sorted(e["source_id"] for e in second) == [
            "course:crs-live:student:stu-1:signed", "course:crs-live:student:stu-2:absent"]

        # a justification arrives the next day: a new, justified absence event
        fake.dataset["courses"][0]["STUDENTS"][1]["absenceId"] = "abs-9"
        fake.dataset["courses"][0]["STUDENTS"][1]["comment"] = "Convocation"
        clock[0] = NOW + dt.timedelta(days=1)
        third, _r, cursor = await full_sync(connector, cursor)
        assert [e["source_id"] for e in third] == ["course:crs-live:student:stu-2:absent:justified"]

        # a slot added afterwards in Edusign for an already read period is still found
        fake.dataset["courses"].append({**copy.deepcopy(fake.dataset["courses"][0]), "ID": "crs-added", "LOCKED": True})
        fourth, _r, cursor = await full_sync(connector, cursor)
        assert sorted(e["source_id"] for e in fourth) == [
            "course:crs-added:professor:prof-1:signed", "course:crs-added:student:stu-1:signed",
            "course:crs-added:student:stu-2:absent:justified"]

        # after `settle` the slots are final and leave the cursor
        clock[0] = NOW + dt.timedelta(days=9)
        fifth, _r, cursor = await full_sync(connector, cursor)
        assert fifth == [] and cursor["open"] == {}
        fake.dataset["courses"][0]["STUDENTS"].append({"studentId": "stu-3", "state": True})
        assert (await full_sync(connector, cursor))[0] == []


async def test_backfill_pages_by_window_and_resumes(tmp_path):
    async with connected(tmp_path, window="7d") as (connector, _fake):
        pages = []
        cursor = None
        while True:
            result = await connector.pull(cursor)
            pages.append(result)
            cursor = result.cursor
            if not result.has_more:
                break
        assert len(pages) > 5  # 2026-10-01 to today, one week per page
        assert pages[0].events and not pages[1].events  # first week: 5 Oct; second: nothing
        again, _r, _c = await full_sync(connector, cursor)
        assert again == []


async def test_future_slots_are_not_read(tmp_path):
    async with connected(tmp_path) as (connector, fake):
        events, _r, _c = await full_sync(connector)
    assert not any("crs-999" in e["source_id"] for e in events)
    now = dt.datetime.now(dt.timezone.utc)
    ends = [dt.datetime.fromisoformat(q["end"].replace("Z", "+00:00")) for _m, p, q in fake.requests if p == "/v1/course"]
    assert ends and max(ends) <= now


# ---------------------------------------------------------------------------- failures


async def test_429_and_5xx_are_retried_with_backoff_honouring_retry_after(tmp_path):
    fake = FakeEdusign()
    fake.fail_next = [429, 503]
    fake.retry_after = "1"
    async with connected(tmp_path, fake, retries=3) as (connector, fake):
        started = time.monotonic()
        health = await connector.check()
        elapsed = time.monotonic() - started
    assert health.ok
    assert fake.count("/v1/school") == 3  # 429, 503, then 200
    assert elapsed >= 1.0  # Retry-After: 1 was honoured


async def test_a_long_retry_after_is_left_to_the_hub(tmp_path):
    fake = FakeEdusign()
    fake.fail_all = 429
    fake.retry_after = "120"
    async with connected(tmp_path, fake, retries=3) as (connector, fake):
        started = time.monotonic()
        with pytest.raises(RateLimitedError) as raised:
            await connector.pull(None)
    assert raised.value.retry_after == 120 and time.monotonic() - started < 1.0
    assert fake.count("/v1/course") == 1


async def test_invalid_api_key_makes_check_unhealthy_and_pull_raise_auth_error(tmp_path):
    async with connected(tmp_path, api_key="revoked-key-0000") as (connector, _fake):
        health = await connector.check()
        with pytest.raises(AuthError):
            await connector.pull(None)
    assert not health.ok
    assert "refused the API key" in health.message and "HTTP 401" in health.message
    assert "revoked-key-0000" not in health.message


async def test_business_error_answered_with_http_200_is_permanent(tmp_path):
    fake = FakeEdusign()
    fake.courses_error = "Invalid date format"
    async with connected(tmp_path, fake) as (connector, fake):
        with pytest.raises(PermanentError, match="Edusign says: Invalid date format"):
            await connector.pull(None)


async def test_the_api_key_is_only_sent_to_edusign(tmp_path):
    images = FakeEdusign()
    async with running(images) as images:
        dataset = sample_dataset(base_url=images.url)  # signature links on another host
        async with connected(tmp_path, FakeEdusign(dataset=dataset)) as (connector, fake):
            await full_sync(connector)
    assert images.count("/signatures/stu-1-crs-101.png") == 1
    assert all(auth is None for _path, auth in images.authorizations)
    assert all(auth == f"Bearer {KEY}" for path, auth in fake.authorizations if path.startswith("/v1/"))


def test_docs_page_lists_every_key():
    """docs/connectors/edusign.md documents every key of the config model, nested ones included."""
    from pathlib import Path

    from pydantic import BaseModel

    from hub.connector import ConnectorConfig

    page = (Path(__file__).resolve().parents[3] / "docs" / "connectors" / "edusign.md").read_text(encoding="utf-8")

    def keys(model):
        for name, info in model.model_fields.items():
            if model is Edusign.Config and name in ConnectorConfig.model_fields:
                continue
            yield info.alias or name
            annotation = info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                yield from keys(annotation)

    missing = [key for key in keys(Edusign.Config) if f"`{key}`" not in page]
    assert not missing, f"keys not documented in docs/connectors/edusign.md: {missing}"


async def test_no_api_option_is_explained(tmp_path):
    fake = FakeEdusign()
    fake.fail_all = 402
    async with connected(tmp_path, fake) as (connector, _fake):
        health = await connector.check()
    assert not health.ok and "no API option" in health.message
