"""Pulling statements from the fake LRS: paging, cursor, retries, credentials, dead letters."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest
from pydantic import ValidationError

from connectors.xapi import Xapi, XapiConfig
from hub.errors import AuthError, ConnectorConfigError, PermanentError, RateLimitedError, RetryableError
from hub.testing import captured_logs, close_context, make_context
from tests.fakes import xapi_statements as S
from tests.fakes.xapi_lrs import Failure, FakeLrs


@pytest.fixture
async def lrs():
    fake = FakeLrs(max_limit=4)
    async with fake.running():
        yield fake


@pytest.fixture
async def make_connector(tmp_path):
    contexts = []

    def factory(lrs: FakeLrs | None, **config) -> Xapi:
        base = {"kind": "xapi", "retries": 2, "retry_backoff": "10ms", "retry_max_wait": "5s", "page_limit": 4}
        if lrs is not None:
            base.update(endpoint=lrs.url, username=lrs.username, password=lrs.password)
        context = make_context(tmp_path / f"ctx{len(contexts)}", "lrs")
        contexts.append(context)
        connector = Xapi("lrs", XapiConfig.model_validate({**base, **config}), context)
        connector.waits = []

        async def sleep(seconds: float) -> None:  # record the back-off instead of waiting
            connector.waits.append(seconds)

        connector._sleep = sleep
        return connector

    yield factory
    for context in contexts:
        await close_context(context)


async def sync(connector: Xapi, cursor=None, max_pages: int = 50):
    events, rejects, pages = [], [], 0
    while True:
        result = await connector.pull(cursor)
        pages += 1
        events += result.events
        rejects += result.rejects
        cursor = json.loads(json.dumps(result.cursor))  # what the store keeps
        if not result.has_more:
            return events, rejects, cursor, pages
        assert pages < max_pages


def ids(events) -> list[str]:
    return [e["source_id"] for e in events]


async def test_pages_follow_more_links_with_auth_and_version(lrs, make_connector):
    lrs.add(S.ALL_SAMPLES)
    connector = make_connector(lrs)
    events, rejects, cursor, pages = await sync(connector)
    assert pages == 4 and not rejects  # 16 statements, 4 per page
    first, *rest = lrs.requests
    assert first["path"] == "/xAPI/statements"
    assert first["query"] == {"limit": "4", "ascending": "true"}
    assert first["headers"]["X-Experience-API-Version"] == "1.0.3"
    assert first["headers"]["Authorization"].startswith("Basic ")
    assert [r["path"].rsplit("/", 1)[0] for r in rest] == ["/xAPI/statements/more"] * 3  # relative links, resolved
    closed = cursor.pop("closed")  # the class closed by BBB_LEFT: its join and its leave are consumed
    assert cursor == {"since": lrs.statements[-1]["stored"].replace("Z", "000Z"), "seen": [lrs.statements[-1]["id"]]}
    assert closed["consumed"] == {S.BBB_JOINED["id"]: "2026-10-05T12:00:00.000000Z",
                                  S.BBB_LEFT["id"]: "2026-10-05T13:30:15.000000Z"}
    assert sorted(ids(events)) == sorted([
        S.CMI5_COMPLETED["id"], S.CMI5_PASSED["id"], S.CMI5_PASSED["id"] + "#score", S.CMI5_SATISFIED["id"],
        S.CMI5_TERMINATED["id"], S.CMI5_FAILED["id"], S.CMI5_FAILED["id"] + "#score", S.CMI5_PROGRESSED["id"],
        S.CMI5_ABANDONED["id"], S.SPEC_ATTEMPTED["id"], S.BBB_LEFT["id"], S.VIDEO_TERMINATED["id"], S.DOWNLOADED["id"]])
    details = (await connector.check()).details
    assert details["statements"] == 16 and details["events"] == 13 and details["rejected"] == 0
    assert details["skipped"] == {"opening": 3, "unmapped_verb": 1, "voided": 1}
    assert details["unmapped_verbs"] == {"http://adlnet.gov/expapi/verbs/experienced": 1}
    assert any("voids statement e05aa883" in line for line in captured_logs(connector.context))


async def test_resume_asks_since_and_returns_only_new_statements(lrs, make_connector):
    lrs.add(S.CMI5_SAMPLES)
    first, _, cursor, _ = await sync(make_connector(lrs))
    lrs.requests.clear()
    lrs.add([S.CMI5_FAILED, S.CMI5_PROGRESSED])
    again, _, cursor2, _ = await sync(make_connector(lrs), cursor)  # a new instance: the cursor is the only state
    assert ids(again) == [S.CMI5_FAILED["id"], S.CMI5_FAILED["id"] + "#score", S.CMI5_PROGRESSED["id"]]
    assert lrs.requests[0]["query"]["since"] < cursor["since"]  # 1 ms before: statements stored at that instant are re-read
    nothing, _, cursor3, _ = await sync(make_connector(lrs), cursor2)
    assert nothing == [] and cursor3 == cursor2


async def test_statements_sharing_one_stored_time_are_neither_lost_nor_repeated(lrs, make_connector):
    same = "2026-10-05T08:00:00.000Z"
    lrs.add(S.ALL_SAMPLES[:6], stored=same)  # launched ... terminated: 4 pages of 4 would split them
    connector = make_connector(lrs)
    page = await connector.pull(None)
    assert page.has_more and page.cursor["since"] == "2026-10-05T08:00:00.000000Z" and len(page.cursor["seen"]) == 4
    lrs.expire_more = 1  # the restart happens after the `more` link expired: read again from `since`
    lrs.add([S.CMI5_FAILED], stored=same)  # and one more arrived with the very same `stored`
    events, _, cursor, _ = await sync(connector, json.loads(json.dumps(page.cursor)))
    all_ids = ids(page.events) + ids(events)
    assert len(all_ids) == len(set(all_ids))
    assert set(all_ids) == {S.CMI5_COMPLETED["id"], S.CMI5_PASSED["id"], S.CMI5_PASSED["id"] + "#score",
                            S.CMI5_SATISFIED["id"], S.CMI5_TERMINATED["id"], S.CMI5_FAILED["id"], S.CMI5_FAILED["id"] + "#score"}
    assert cursor["since"] == "2026-10-05T08:00:00.000000Z" and len(cursor["seen"]) == 7
    assert any("refused the `more` link" in line for line in captured_logs(connector.context))
    late = copy.deepcopy(S.CMI5_PROGRESSED)
    lrs.add([late], stored=same)  # late again, same instant
    events, _, _, _ = await sync(make_connector(lrs), cursor)
    assert ids(events) == [late["id"]]


async def test_an_lrs_refusing_all_its_more_links_fails_the_pull(lrs, make_connector):
    lrs.add(S.ALL_SAMPLES[:6], stored="2026-10-05T08:00:00.000Z")
    lrs.expire_more = -1
    connector = make_connector(lrs)
    page = await connector.pull(None)
    page = await connector.pull(page.cursor)  # refused, restarted from `since`: the same 4, all seen
    assert page.events == [] and page.cursor["restarted"] == "2026-10-05T08:00:00.000000Z"
    with pytest.raises(PermanentError, match="the LRS refuses its own `more` links"):
        await connector.pull(page.cursor)


async def test_ralph_like_lrs_with_timestamp_cursor_and_unordered_pages(lrs, make_connector):
    """`since` filters on timestamp and ascending pages come reversed: the restart point stays at the
    beginning of the traversal until its last page, and statements arriving late are still read."""
    lrs.ralph_quirks = True
    base = dt.datetime(2026, 10, 5, 9, 0, tzinfo=dt.timezone.utc)
    statements = S.cmi5_session(1, base)[:6] + S.cmi5_session(2, base + dt.timedelta(minutes=5))[:6]
    lrs.add(statements)
    connector = make_connector(lrs, cursor_field="timestamp")
    page = await connector.pull(None)
    assert page.has_more and page.cursor["since"] is None and page.cursor["ordered"] is False
    events, _, cursor, pages = await sync(connector, page.cursor)
    assert pages == 2  # 12 statements, 4 per page
    assert len(page.events) + len(events) == 2 * 5
    high = max(s["timestamp"] for s in statements)
    assert cursor["since"].startswith(high[:19])
    late = S.cmi5_session(3, base + dt.timedelta(minutes=10), minutes=20)[:6]  # posted now, 20 minutes in the past
    lrs.add(late)
    events, _, _, _ = await sync(make_connector(lrs, cursor_field="timestamp"), cursor)
    assert {e["learner"]["ref"] for e in events} == {"u003", "u001", "u002"}  # the 1 h overlap re-reads the others…
    assert len([e for e in events if e["learner"]["ref"] == "u003"]) == 5  # …and nothing of u003 is lost


async def test_429_and_5xx_are_retried_honouring_retry_after(lrs, make_connector):
    lrs.add(S.CMI5_SAMPLES)
    lrs.failures = [Failure(429, "2"), Failure(503, "1"), Failure(500)]
    connector = make_connector(lrs, retries=3)
    events, _, _, _ = await sync(connector)
    assert len(events) == 5
    assert connector.waits[:2] == [2.0, 1.0] and 0 <= connector.waits[2] <= 5
    assert len(lrs.requests) == 3 + 2  # three refused, then two pages


async def test_retries_give_up_with_the_taxonomy_class(lrs, make_connector):
    lrs.always = 503
    lrs.always_retry_after = None
    connector = make_connector(lrs, retries=2)
    with pytest.raises(RetryableError, match=r"GET /xAPI/statements: HTTP 503"):
        await connector.pull(None)
    assert len(lrs.requests) == 3 and len(connector.waits) == 2
    lrs.requests.clear()
    lrs.always, lrs.always_retry_after = 429, "3600"
    with pytest.raises(RateLimitedError) as raised:
        await connector.pull(None)
    assert raised.value.retry_after == 3600  # longer than retry_max_wait: the next run retries
    assert len(lrs.requests) == 1


async def test_wrong_credentials_raise_auth_error_without_retrying(lrs, make_connector):
    lrs.add(S.CMI5_SAMPLES)
    connector = make_connector(lrs, password="expired-password")
    with pytest.raises(AuthError, match=r"the LRS refused the credentials \(HTTP 401 on GET /xAPI/statements\): "
                                        r"check `username` and `password`") as raised:
        await connector.pull(None)
    assert "expired-password" not in str(raised.value)
    assert len(lrs.requests) == 1
    health = await connector.check()
    assert not health.ok and "refused the credentials" in health.message


async def test_network_and_peer_errors(lrs, make_connector):
    closed = make_connector(None, endpoint="http://127.0.0.1:9/xAPI/", username="u", password="p", retries=0)
    with pytest.raises(RetryableError, match="GET /xAPI/statements: Client"):
        await closed.pull(None)
    portal = make_connector(lrs, endpoint=f"http://127.0.0.1:{lrs.port}/portal/")
    with pytest.raises(ConnectorConfigError, match=r"the answer is not JSON; is `endpoint` the LRS's xAPI base URL\?"):
        await portal.pull(None)
    lrs.add(S.ALL_SAMPLES)
    lrs.more_base = "http://lrs.evil.example"
    elsewhere = make_connector(lrs)
    first = await elsewhere.pull(None)
    with pytest.raises(PermanentError, match="points to another server"):
        await elsewhere.pull(first.cursor)
    lrs.more_base = f"http://127.0.0.1:{lrs.port}"  # an absolute link to the same server is fine
    events, _, _, _ = await sync(make_connector(lrs))
    assert len(events) == 13


async def test_check_and_push_only(lrs, make_connector):
    health = await make_connector(lrs).check()
    assert health.ok and health.message == "ok"
    assert lrs.requests[0]["query"]["limit"] == "1"
    push_only = make_connector(None, push_token="a-long-push-token")
    health = await push_only.check()
    assert health.ok and health.message.startswith("push only")
    result = await push_only.pull(None)
    assert (result.events, result.has_more) == ([], False)


async def test_keep_statements_as_evidence(lrs, make_connector):
    lrs.add([S.CMI5_PASSED])
    connector = make_connector(lrs, keep_statements=True)
    events, _, _, _ = await sync(connector)
    (evidence,) = events[0]["evidence"]
    assert events[1]["evidence"] == [evidence]  # both events of the statement
    stored = json.loads(connector.context.blobs.get(evidence["sha256"]))
    assert stored["id"] == S.CMI5_PASSED["id"] and evidence["media_type"] == "application/json"


def test_config_validation():
    def check(**config):
        return XapiConfig.model_validate({"kind": "xapi", **config})

    for bad, message in [
        ({"endpoint": "https://u:p@lrs.example.fr/xAPI/", "username": "u", "password": "p"}, "not in the URL"),
        ({"endpoint": "https://lrs.example.fr/xAPI/", "username": "u"}, "both username and password"),
        ({"push_username": "moodle"}, "both push_username and push_password"),
        ({}, "give an endpoint to pull from, or push credentials"),
        ({"push_token": "t0ken-t0ken", "action_from": ["course"]}, "unknown action_from rule 'course'"),
        ({"push_token": "t0ken-t0ken", "version": "0.95"}, "String should match pattern"),
        ({"push_token": "t0ken-t0ken", "id_namespaces": {"https://m.example.fr": "Moodle User"}}, "lowercase"),
    ]:
        with pytest.raises(ValidationError, match=message):
            check(**bad)
    config = check(endpoint="https://lrs.example.fr/data/xAPI/statements", username="u", password="p",
                   action_from=["grouping:http://id.tincanapi.com/activitytype/lms/course", "extension:https://x.example/a"])
    connector = Xapi("lrs", config, make_context("/tmp/unused-xapi-ctx", "lrs"))
    assert connector.statements_url == "https://lrs.example.fr/data/xAPI/statements"
    assert connector.overlap == dt.timedelta(0)
    assert Xapi("lrs", config.model_copy(update={"cursor_field": "timestamp"}), connector.context).overlap == dt.timedelta(hours=1)


def intervals(events) -> dict[tuple[str, str], list[tuple[str, str, int]]]:
    """What the hub keeps (the first event of each source_id): (start, end, seconds) by learner and type."""
    kept: dict[str, dict] = {}
    for event in events:
        kept.setdefault(event["source_id"], event)
    out: dict[tuple[str, str], list[tuple[str, str, int]]] = {}
    for event in kept.values():
        data = event["data"]
        if event["type"] == "lms.session":
            span = (data["start"], data["end"], data["duration_seconds"])
        elif event["type"] == "lms.virtual_class_attended":
            span = (data["joined_at"], data["left_at"], data["duration_seconds"])
        else:
            continue
        out.setdefault((event["learner"]["ref"], event["type"]), []).append(span)
    for spans in out.values():
        spans.sort()
        for (_, end, _), (start, _, _) in zip(spans, spans[1:]):
            assert dt.datetime.fromisoformat(start) >= dt.datetime.fromisoformat(end), spans  # never overlapping
    return out


@pytest.mark.parametrize("quirks", [True, False], ids=["timestamp-cursor", "stored-cursor-1h-overlap"])
async def test_an_overlapping_re_read_pairs_each_opening_once(lrs, make_connector, quirks):
    """Issue 10: with the 1 h overlap, the second sync re-reads the morning's join and log-in; they
    were consumed by the morning's closings and must not open the afternoon's class and session."""
    lrs.ralph_quirks = quirks
    first, second = S.overlap_scenario()
    lrs.add(first)
    options = {"cursor_field": "timestamp"} if quirks else {"overlap": "1h"}
    events, rejects, cursor, _ = await sync(make_connector(lrs, **options))
    lrs.add(second)
    more, rejects2, cursor, _ = await sync(make_connector(lrs, **options), cursor)  # a restart between the syncs
    assert not rejects and not rejects2
    assert {k: [s for *_, s in v] for k, v in intervals(events + more).items()} == {
        ("17", "lms.virtual_class_attended"): [3600, 3600], ("17", "lms.session"): [2700, 1200]}
    third = make_connector(lrs, **options)
    again, _, cursor, _ = await sync(third, cursor)  # and a third, re-reading the afternoon
    assert again == [] and dict(third.skipped) == {}  # what was paired is recognised, not "unpaired" again
    assert {k: [s for *_, s in v] for k, v in intervals(events + more + again).items()} == {
        ("17", "lms.virtual_class_attended"): [3600, 3600], ("17", "lms.session"): [2700, 1200]}


async def test_a_restart_between_the_opening_and_the_closing_still_pairs(lrs, make_connector):
    lrs.ralph_quirks = True
    first, second = S.overlap_scenario()
    lrs.add(first[:2])  # the join and the log-in only
    events, _, cursor, _ = await sync(make_connector(lrs, cursor_field="timestamp"))
    assert events == [] and cursor["open"]
    lrs.add(first[2:])
    events, _, cursor, _ = await sync(make_connector(lrs, cursor_field="timestamp"), cursor)
    assert {k: [s for *_, s in v] for k, v in intervals(events).items()} == {
        ("17", "lms.virtual_class_attended"): [3600], ("17", "lms.session"): [2700]}
