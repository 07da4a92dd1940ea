"""The HubSpot connector (source, webhooks, sink) against a fake HubSpot (tests/fakes/hubspot_fake.py)."""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import time

import orjson
import pytest

import connectors.hubspot as hubspot_module
from connectors.hubspot import HubSpot
from hub.connector import WebhookRequest
from hub.errors import AuthError, PermanentError, RateLimitedError, WebhookRejected
from hub.events import EventTypeRegistry, LearnerRef, TraceEvent
from hub.testing import close_context, get_connector_test_class, make_context, sample_events
from hub.ulid import new_ulids
from tests.fakes.hubspot_fake import FakeHubSpot, running, sign_webhook

TOKEN = "test-hubspot-token"
SECRET = "client-secret-0123456789"
HOOK_URL = "https://hub.example.org/webhooks/crm"
CONFIG = {
    "base_url": "http://127.0.0.1:9", "token": TOKEN, "client_secret": SECRET, "webhook_url": HOOK_URL,
    "retries": 1, "retry_backoff": "10ms", "retry_max_wait": "2s", "timeout": "5s",
}
T0 = 1_790_000_000_000  # 2026-09-21T14:13:20Z


def seed(fake: FakeHubSpot) -> FakeHubSpot:
    """Contacts (two are the sample events' learners), a broken contact and deals."""
    a = fake.add_contact("learner0@example.org", "Camille", "Dubois", created_ms=T0,
                         properties={"hs_analytics_source": "ORGANIC_SEARCH", "phone": "+33 6 00 00 00 01"})
    b = fake.add_contact("learner1@example.org", "Chloé", "N'Diaye", created_ms=T0 + 1000)
    fake.add_contact("broken@example.org", "Broken", "Date", created_ms=T0 + 2000)
    fake.objects["contacts"][str(int(b) + 1)]["properties"]["createdate"] = "le 3 mars"
    c = fake.add_contact("hugo.lefevre@example.fr", "Hugo", "Lefèvre", created_ms=T0 + 3000)
    fake.add_deal("Développeur web React", "closedwon", [a, b], created_ms=T0 + 10_000,
                  properties={"closedate": "2026-09-30T00:00:00.000Z"})
    fake.add_deal("Data analyst", "appointmentscheduled", [c], created_ms=T0 + 11_000)
    fake.add_deal("Sans contact", "closedwon", [], created_ms=T0 + 12_000)
    return fake


@contextlib.asynccontextmanager
async def hubspot_peer(folder):
    async with running(seed(FakeHubSpot(token=TOKEN))) as fake:
        yield {"base_url": fake.url}


@contextlib.asynccontextmanager
async def failing_hubspot(status, folder):
    fake = FakeHubSpot(token=TOKEN)
    fake.fail_all = status
    fake.retry_after = "120"
    async with running(fake) as fake:
        yield {"base_url": fake.url}


def webhook_body(occurred_ms: int | None = None) -> bytes:
    at = occurred_ms or int(time.time() * 1000)
    return orjson.dumps([
        {"eventId": 100, "subscriptionId": 7, "portalId": 62515, "appId": 54321, "occurredAt": at,
         "subscriptionType": "contact.creation", "attemptNumber": 0, "objectId": 501, "changeSource": "CRM",
         "changeFlag": "NEW"},
        {"eventId": 101, "subscriptionId": 8, "portalId": 62515, "appId": 54321, "occurredAt": at,
         "subscriptionType": "deal.propertyChange", "attemptNumber": 0, "objectId": 505,
         "propertyName": "dealstage", "propertyValue": "closedwon", "changeSource": "CRM"},
        {"eventId": 102, "subscriptionId": 9, "portalId": 62515, "appId": 54321, "occurredAt": at,
         "subscriptionType": "contact.propertyChange", "attemptNumber": 0, "objectId": 502,
         "propertyName": "phone", "propertyValue": "+33 6", "changeSource": "CRM"},
    ])


def signed(body: bytes, *, at_ms: int | None = None, secret: str = SECRET, url: str = HOOK_URL) -> WebhookRequest:
    headers = sign_webhook(secret, "POST", url, body, at_ms)
    return WebhookRequest("POST", "/webhooks/crm", headers, {}, body, "127.0.0.1")


TestHubSpotContract = get_connector_test_class(
    HubSpot, CONFIG, pull_peer=hubspot_peer, sink_peer=hubspot_peer, webhook_peer=hubspot_peer,
    failing_peer=failing_hubspot, webhook_body=webhook_body(), sign_request=signed,
    stale_request=lambda body: signed(body, at_ms=int(time.time() * 1000) - 6 * 60 * 1000),
)


# ---------------------------------------------------------------------------- helpers


@contextlib.asynccontextmanager
async def connected(tmp_path, fake: FakeHubSpot | None = None, **overrides):
    async with running(fake or seed(FakeHubSpot(token=TOKEN))) as fake:
        config = HubSpot.Config.model_validate({"kind": "hubspot", **CONFIG, "base_url": fake.url, **overrides})
        context = make_context(tmp_path, "crm")
        try:
            yield HubSpot("crm", config, context), fake
        finally:
            await close_context(context)


async def full_sync(connector, cursor=None):
    events, rejects, pages = [], [], 0
    while True:
        result = await connector.pull(cursor)
        pages += 1
        events.extend(result.events)
        rejects.extend(result.rejects)
        cursor = result.cursor
        if not result.has_more:
            return events, rejects, cursor, pages
        assert pages < 100


def trace(type_: str, data: dict, *, email: str | None = None, hubspot_id: str | None = None,
          at: str = "2026-10-05T09:00:00+02:00", ref: str = "u1", action: str | None = "ACT-2026-REACT-01") -> TraceEvent:
    ids = {"hubspot_contact": hubspot_id} if hubspot_id else None
    return TraceEvent(id=new_ulids(1)[0], type=type_, occurred_at=dt.datetime.fromisoformat(at),
                      received_at=dt.datetime.now(dt.timezone.utc), source="moodle", source_id=f"s-{time.time_ns()}",
                      learner=LearnerRef(ref=ref, email=email, ids=ids), action=action, data=data)


# ---------------------------------------------------------------------------- source: pull


async def test_contacts_and_deals_map_to_funnel_events(tmp_path):
    async with connected(tmp_path) as (connector, fake):
        events, rejects, _cursor, _pages = await full_sync(connector)
    EventTypeRegistry().validate_batch(copy.deepcopy(events))
    got = {e["source_id"]: e for e in events}
    contact = got["contact:501:created"]
    assert contact["type"] == "prospect.contact_created" and contact["occurred_at"] == "2026-09-21T14:13:20.000Z"
    assert contact["learner"] == {"ref": "501", "ids": {"hubspot_contact": "501"}, "email": "learner0@example.org",
                                  "name": "Camille Dubois"}
    assert contact["data"] == {"email": "learner0@example.org", "first_name": "Camille", "last_name": "Dubois",
                               "phone": "+33 6 00 00 00 01", "origin": "ORGANIC_SEARCH"}
    registered = [e for e in events if e["type"] == "enrolment.registered"]
    assert sorted(e["source_id"] for e in registered) == ["deal:505:contact:501:registered",
                                                          "deal:505:contact:502:registered"]
    assert registered[0]["occurred_at"] == "2026-09-30T00:00:00.000Z"  # the deal's close date
    assert registered[0]["data"]["program"] == "Développeur web React"
    assert registered[0]["data"]["enrolment"] == "hubspot-deal-505"
    # the deal without contact and the broken contact are dead-lettered with their records
    errors = sorted(r.error for r in rejects)
    assert errors == ["contact 503: properties.createdate: invalid date-time 'le 3 mars'",
                      "deal 507: no associated contact: associate the learner's contact with the deal in HubSpot"]
    broken = next(r for r in rejects if "503" in r.error)
    assert broken.stage == "map" and broken.payload["id"] == "503"
    assert broken.payload["properties"]["createdate"] == "le 3 mars"


async def test_search_requests_filter_sort_and_page_by_modification_date(tmp_path):
    async with connected(tmp_path, page_size=2, start_date="2026-09-01") as (connector, fake):
        _events, _rejects, _cursor, pages = await full_sync(connector)
    searches = fake.calls("/contacts/search")
    assert len(searches) == 2 and pages == 2 + 2  # 4 contacts, 3 deals, 2 per page
    first = searches[0]
    assert first["filterGroups"] == [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE",
                                                   "value": str(int(dt.datetime(2026, 9, 1, tzinfo=dt.timezone(
                                                       dt.timedelta(hours=2))).timestamp() * 1000))}]}]
    assert first["sorts"] == [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]
    assert first["limit"] == 2 and "after" not in first and searches[1]["after"] == "2"
    deals = fake.calls("/deals/search")
    assert deals[0]["filterGroups"][0]["filters"][0]["propertyName"] == "hs_lastmodifieddate"
    # associations and contacts of a page of deals: one batch call each, not one per deal
    assert len(fake.calls("/associations/deals/contacts/batch/read")) == 2
    assert len(fake.calls("/objects/contacts/batch/read")) == 1  # the second page's deals have no registered contact


async def test_incremental_pull_reads_only_what_changed(tmp_path):
    async with connected(tmp_path) as (connector, fake):
        _e, _r, cursor, _p = await full_sync(connector)
        now = int(time.time() * 1000)
        fake.add_contact("new@example.fr", "Nouveau", "Contact", created_ms=now)
        deal = fake.objects["deals"]["506"]  # the data analyst deal is won
        deal["properties"]["dealstage"] = "closedwon"
        deal["properties"]["hs_lastmodifieddate"] = hubspot_fake_iso(now)
        events, rejects, cursor, _p = await full_sync(connector, cursor)
        assert sorted(e["source_id"] for e in events) == ["contact:508:created", "deal:506:contact:504:registered"]
        assert rejects == []
        # nothing changed: nothing returned, although the last minutes are re-read (lookback)
        again, _r, _c, _p = await full_sync(connector, cursor)
        assert again == []
        assert fake.calls("/contacts/search")[-1]["filterGroups"][0]["filters"][0]["value"] == str(now - 5 * 60 * 1000)


def hubspot_fake_iso(ms: int) -> str:
    from tests.fakes.hubspot_fake import iso

    return iso(ms)


async def test_search_cap_of_10000_results_restarts_from_the_newest_time(tmp_path, monkeypatch):
    monkeypatch.setattr(hubspot_module, "SEARCH_CAP", 4)  # HubSpot's cap is 10,000; the same logic at 4
    fake = FakeHubSpot(token=TOKEN)
    for i in range(9):
        fake.add_contact(f"p{i}@example.fr", created_ms=T0 + i * 1000)
    async with connected(tmp_path, fake, page_size=2, objects=["contacts"]) as (connector, fake):
        events, _r, _c, _p = await full_sync(connector)
    assert sorted(e["source_id"] for e in events) == sorted(f"contact:{501 + i}:created" for i in range(9))
    afters = [body.get("after") for body in fake.calls("/contacts/search")]
    assert afters.count(None) >= 2  # a new query instead of paging past the cap
    assert all(int(a) + 2 <= 4 for a in afters if a)


async def test_429_is_retried_after_the_rate_limit_interval(tmp_path):
    fake = seed(FakeHubSpot(token=TOKEN, rate_limit=(1, 300)))
    async with connected(tmp_path, fake, retries=3, objects=["contacts"]) as (connector, fake):
        started = time.monotonic()
        await connector.check()
        await connector.pull(None)  # second call inside the 300 ms window: 429, then retried
        elapsed = time.monotonic() - started
    statuses = len(fake.requests)
    assert statuses >= 3 and elapsed >= 0.25


async def test_a_long_retry_after_is_left_to_the_hub(tmp_path):
    fake = FakeHubSpot(token=TOKEN)
    fake.fail_all, fake.retry_after = 429, "90"
    async with connected(tmp_path, fake) as (connector, fake):
        with pytest.raises(RateLimitedError) as raised:
            await connector.pull(None)
    assert raised.value.retry_after == 90 and len(fake.requests) == 1


async def test_5xx_is_retried_with_backoff(tmp_path):
    fake = seed(FakeHubSpot(token=TOKEN))
    fake.fail_next = [502, 503]
    async with connected(tmp_path, fake, retries=2) as (connector, fake):
        result = await connector.pull(None)
    assert result.events and len(fake.calls("/contacts/search")) == 3


async def test_expired_token_makes_check_unhealthy(tmp_path):
    async with connected(tmp_path, token="pat-na1-expired-000") as (connector, _fake):
        health = await connector.check()
        with pytest.raises(AuthError, match="INVALID_AUTHENTICATION"):
            await connector.pull(None)
        with pytest.raises(AuthError):
            await connector.deliver(sample_events(1))
    assert not health.ok and "refused the private app token" in health.message
    assert "pat-na1-expired-000" not in health.message


# ---------------------------------------------------------------------------- source: webhooks


async def test_webhook_events_match_the_pulled_ones(tmp_path):
    async with connected(tmp_path) as (connector, _fake):
        result = await connector.handle_webhook(signed(webhook_body()))
        pulled, _r, _c, _p = await full_sync(connector)
    assert result.response == {"received": 3, "events": 3}
    by_id = {e["source_id"]: e for e in pulled}
    for event in result.events:  # same source ids and content: the hub de-duplicates webhook + pull
        assert event == by_id[event["source_id"]]


@pytest.mark.parametrize("case", ["wrong secret", "old timestamp", "future timestamp", "other url", "no headers"])
async def test_wrong_or_replayed_signatures_are_refused_with_401(tmp_path, case):
    body = webhook_body()
    now = int(time.time() * 1000)
    request = {
        "wrong secret": lambda: signed(body, secret="not-the-secret"),
        "old timestamp": lambda: signed(body, at_ms=now - 5 * 60 * 1000 - 1000),
        "future timestamp": lambda: signed(body, at_ms=now + 10 * 60 * 1000),
        "other url": lambda: signed(body, url="https://attacker.example/webhooks/crm"),
        "no headers": lambda: WebhookRequest("POST", "/webhooks/crm", {}, {}, body),
    }[case]()
    async with connected(tmp_path) as (connector, fake):
        with pytest.raises(WebhookRejected) as raised:
            await connector.handle_webhook(request)
    assert raised.value.status == 401
    assert fake.requests == []  # refused before any call back to HubSpot


@pytest.mark.parametrize("body", [b"{not json", b'"text"', b'[{"subscriptionType": "contact.creation"}]',
                                  b'[{"subscriptionType": "contact.creation", "objectId": 1, "occurredAt": "hier"}]'])
async def test_malformed_webhook_bodies_are_refused_with_400(tmp_path, body):
    async with connected(tmp_path) as (connector, _fake):
        with pytest.raises(WebhookRejected) as raised:
            await connector.handle_webhook(signed(body))
    assert raised.value.status == 400


@pytest.mark.parametrize("object_id", [1.5, "12ab", True])
async def test_a_webhook_object_id_must_be_an_integer(tmp_path, object_id):
    body = orjson.dumps([{"subscriptionType": "contact.creation", "objectId": object_id, "occurredAt": 1760000000000}])
    async with connected(tmp_path) as (connector, _fake):
        with pytest.raises(WebhookRejected, match="objectId must be an integer"):
            await connector.handle_webhook(signed(body))


async def test_a_300_digit_object_id_stays_exact(tmp_path):
    """orjson parses such a number as a float (1e+300): the id would be another contact's."""
    digits = "9" * 300
    body = b'[{"subscriptionType": "contact.creation", "objectId": ' + digits.encode() + b', "occurredAt": 1760000000000}]'
    async with connected(tmp_path, webhook_fetch=False) as (connector, _fake):
        result = await connector.handle_webhook(signed(body))
    assert result.events[0]["learner"]["ref"] == digits


async def test_webhook_uri_defaults_to_the_host_header(tmp_path):
    body = webhook_body()
    async with connected(tmp_path, webhook_url=None) as (connector, _fake):
        request = signed(body, url="https://crm-hooks.example.org/webhooks/crm")
        request.headers["Host"] = "crm-hooks.example.org"
        assert (await connector.handle_webhook(request)).events


async def test_webhooks_need_the_client_secret(tmp_path):
    async with connected(tmp_path, client_secret=None) as (connector, _fake):
        with pytest.raises(WebhookRejected) as raised:
            await connector.handle_webhook(signed(webhook_body()))
    assert raised.value.status == 403


# ---------------------------------------------------------------------------- sink


async def test_sink_writes_progress_status_attendance_and_activity(tmp_path):
    async with connected(tmp_path) as (connector, fake):
        fake.objects["contacts"]["502"]["properties"]["parcours_last_attendance"] = "2026-10-06 am signed"
        await connector.deliver([
            trace("enrolment.registered", {}, email="LEARNER0@example.org", at="2026-09-30T10:00:00+02:00"),
            trace("enrolment.started", {"date": "2026-10-05"}, email="learner0@example.org"),
            trace("lms.progress", {"percent": "35.50"}, email="learner0@example.org", at="2026-10-05T18:00:00+02:00"),
            trace("lms.progress", {"percent": "12"}, hubspot_id="501", at="2026-10-05T11:00:00+02:00"),
            trace("attendance.signed", {"date": "2026-10-05", "half_day": "pm", "signer": "learner"},
                  email="learner0@example.org", at="2026-10-05T14:00:00+02:00"),
            trace("attendance.absent", {"date": "2026-10-05", "half_day": "am", "justified": False},
                  email="learner0@example.org", at="2026-10-05T20:00:00+02:00"),
            trace("attendance.absent", {"date": "2026-10-05", "half_day": "pm", "justified": True},
                  hubspot_id="502", at="2026-10-07T09:00:00+02:00"),
        ])
        camille = fake.objects["contacts"]["501"]["properties"]
        chloe = fake.objects["contacts"]["502"]["properties"]
    assert camille["parcours_status"] == "started"
    assert camille["parcours_progress"] == "35.5"  # the latest progress, not the last delivered
    assert camille["parcours_last_attendance"] == "2026-10-05 pm signed"  # the latest half-day
    assert camille["parcours_last_activity"] == str(int(dt.datetime.fromisoformat("2026-10-05T20:00:00+02:00")
                                                        .timestamp() * 1000))
    # an older half-day never overwrites a newer one already in HubSpot
    assert chloe["parcours_last_attendance"] == "2026-10-06 am signed"
    assert "parcours_status" not in chloe


async def test_sink_makes_one_read_and_one_update_per_100_contacts(tmp_path):
    fake = FakeHubSpot(token=TOKEN)
    ids = [fake.add_contact(f"l{i}@example.fr", created_ms=T0) for i in range(150)]
    events = []
    for i in range(150):
        if i % 2:
            events.append(trace("lms.progress", {"percent": str(i % 100)}, hubspot_id=ids[i]))
        else:
            events.append(trace("lms.progress", {"percent": str(i % 100)}, email=f"l{i}@example.fr"))
        events.append(trace("enrolment.started", {}, email=f"l{i}@example.fr", hubspot_id=ids[i] if i % 2 else None))
    async with connected(tmp_path, fake) as (connector, fake):
        await connector.deliver(events)
    reads = fake.calls("/objects/contacts/batch/read")
    assert [bool(r.get("idProperty")) for r in reads] == [False, True]  # 75 ids, then 75 e-mails
    updates = fake.calls("/contacts/batch/update")
    assert [len(u["inputs"]) for u in updates] == [100, 50]  # 150 contacts, 300 events
    assert all(len({i["id"] for i in u["inputs"]}) == len(u["inputs"]) for u in updates)
    assert fake.objects["contacts"][ids[7]]["properties"]["parcours_progress"] == "7"


async def test_unknown_contacts_are_dead_lettered_after_the_others_are_written(tmp_path):
    async with connected(tmp_path) as (connector, fake):
        with pytest.raises(PermanentError, match=r"1 event\(s\) name a HubSpot contact that does not exist "
                                                 r"\(learner refs: ghost\)"):
            await connector.deliver([
                trace("lms.progress", {"percent": "50"}, email="learner1@example.org"),
                trace("lms.progress", {"percent": "60"}, email="nobody@example.org", ref="ghost"),
            ])
        assert fake.objects["contacts"]["502"]["properties"]["parcours_progress"] == "50"


async def test_unknown_contacts_can_be_skipped(tmp_path):
    async with connected(tmp_path, on_unknown_contact="skip") as (connector, fake):
        await connector.deliver([trace("lms.progress", {"percent": "60"}, email="nobody@example.org", ref="ghost")])
    assert fake.calls("/contacts/batch/update") == []


async def test_events_without_contact_details_are_ignored(tmp_path):
    async with connected(tmp_path) as (connector, fake):
        await connector.deliver([trace("lms.progress", {"percent": "1"}, ref="anonymous")])
    assert fake.requests == []


async def test_a_missing_property_is_a_permanent_error_naming_it(tmp_path):
    async with connected(tmp_path, properties={"progress": "avancement_formation"}) as (connector, _fake):
        with pytest.raises(PermanentError, match="avancement_formation"):
            await connector.deliver([trace("lms.progress", {"percent": "1"}, email="learner0@example.org")])


def test_docs_page_lists_every_key():
    """docs/connectors/hubspot.md documents every key of the config model, nested ones included."""
    from pathlib import Path

    from pydantic import BaseModel

    from hub.connector import ConnectorConfig

    page = (Path(__file__).resolve().parents[3] / "docs" / "connectors" / "hubspot.md").read_text(encoding="utf-8")

    def keys(model):
        for name, info in model.model_fields.items():
            if model is HubSpot.Config and name in ConnectorConfig.model_fields:
                continue
            yield info.alias or name
            annotation = info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                yield from keys(annotation)

    missing = [key for key in keys(HubSpot.Config) if f"`{key}`" not in page]
    assert not missing, f"keys not documented in docs/connectors/hubspot.md: {missing}"


async def test_a_sink_only_connector_never_reads_hubspot(tmp_path):
    async with connected(tmp_path, objects=[]) as (connector, fake):
        result = await connector.pull(None)
    assert result.events == [] and not result.has_more and fake.requests == []
