"""The connectors' HTTP client (hub.http): settings, retries and waits, errors, headers, paging."""

from __future__ import annotations

import datetime as dt

import aiohttp
import pytest
from aiohttp import web
from pydantic import ValidationError

from hub.errors import AuthError, ConnectorConfigError, PermanentError, RateLimitedError, RetryableError
from hub.http import ANY_2XX, HttpSettings, Page, paginate


class Peer:
    """A local HTTP server answering from a script of (status, headers, body) and recording requests."""

    def __init__(self):
        self.script: list[tuple[int, dict[str, str], bytes]] = []
        self.requests: list[dict] = []
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append({"method": request.method, "path": request.path, "query": dict(request.query),
                              "headers": dict(request.headers), "body": body})
        status, headers, answer = self.script.pop(0) if self.script else (200, {}, b'{"ok": true}')
        return web.Response(status=status, headers=headers, body=answer)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
async def peer(aiohttp_server_factory):
    peer = Peer()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", peer.handle)
    peer.port = (await aiohttp_server_factory(app)).port
    return peer


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as session:
        yield session


def client(session, peer, waits=None, **options):
    settings = HttpSettings(retries=options.pop("retries", 3), retry_backoff=options.pop("retry_backoff", 0.2),
                            retry_max_wait=options.pop("retry_max_wait", 5))

    async def sleep(seconds: float) -> None:  # record the waits instead of waiting
        waits.append(seconds)

    return settings.client(lambda: session, base_url=peer.url + "/api/",
                           auth_headers=lambda: {"Authorization": "Bearer t0ken"},
                           sleep=sleep if waits is not None else None, **options)


# ---------------------------------------------------------------------------- settings


def test_settings_defaults_other_defaults_and_former_keys():
    assert HttpSettings().model_dump() == {"timeout": "30s", "retries": 3, "retry_backoff": "1s",
                                           "retry_max_wait": "30s"}
    Slow = HttpSettings.with_defaults(timeout=dt.timedelta(minutes=2), retries=0)
    assert (Slow().timeout, Slow().retries, Slow().retry_max_wait) == (dt.timedelta(minutes=2), 0,
                                                                       dt.timedelta(seconds=30))
    assert Slow.model_fields["timeout"].description == HttpSettings.model_fields["timeout"].description
    with pytest.raises(ValidationError, match="less than or equal to 10"):
        Slow(retries=11)
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        HttpSettings(max_retries=2)

    class Renamed(HttpSettings):
        former_http_keys = {"max_attempts": "attempts", "max_retry_wait": "retry_max_wait"}

    renamed = Renamed.model_validate({"max_attempts": 4, "max_retry_wait": "1m"})
    assert (renamed.retries, renamed.retry_max_wait) == (3, dt.timedelta(minutes=1))
    with pytest.raises(ValidationError, match="give 'retry_max_wait' only"):
        Renamed.model_validate({"max_retry_wait": "1m", "retry_max_wait": "2m"})


# ---------------------------------------------------------------------------- retries


async def test_transient_failures_are_retried_never_sooner_than_retry_after(peer, session):
    peer.script = [(429, {"Retry-After": "2"}, b""), (503, {}, b""), (502, {}, b"")]
    waits: list[float] = []
    response = await client(session, peer, waits).request("GET", "/items", params={"page": "1"})
    assert response.status == 200 and response.json("GET /items") == {"ok": True}
    assert len(peer.requests) == 4 and peer.requests[0]["query"] == {"page": "1"}
    assert waits[0] == 2.0  # the peer's Retry-After, longer than the backoff
    assert 0.2 <= waits[1] <= 0.4 and 0.4 <= waits[2] <= 0.8  # half fixed, half random, doubling


async def test_retries_end_with_the_taxonomy_class(peer, session):
    peer.script = [(503, {}, b"")] * 3
    waits: list[float] = []
    with pytest.raises(RetryableError, match=r"^GET /items: HTTP 503$"):
        await client(session, peer, waits, retries=2).request("GET", "/items")
    assert len(peer.requests) == 3 and len(waits) == 2


async def test_a_retry_after_longer_than_the_max_wait_goes_back_to_the_hub(peer, session):
    peer.script = [(429, {"Retry-After": "3600"}, b"")]
    with pytest.raises(RateLimitedError) as raised:
        await client(session, peer, []).request("GET", "/items")
    assert raised.value.retry_after == 3600 and len(peer.requests) == 1


async def test_no_retry_of_auth_and_permanent_errors_nor_with_retries_0(peer, session):
    http = client(session, peer, [])
    peer.script = [(401, {}, b"")]
    with pytest.raises(AuthError):
        await http.request("GET", "/items")
    peer.script = [(422, {}, b'{"message": "bad field"}')]
    with pytest.raises(PermanentError, match=r"HTTP 422$"):
        await http.request("GET", "/items")
    peer.script = [(500, {}, b"")]
    with pytest.raises(RetryableError):
        await http.request("GET", "/items", retries=0)
    assert len(peer.requests) == 3


async def test_network_errors_are_retryable(session):
    unreachable = HttpSettings(retries=0).client(lambda: session, base_url="http://127.0.0.1:9")
    with pytest.raises(RetryableError, match=r"^GET /x: Client"):
        await unreachable.request("GET", "/x")


# ---------------------------------------------------------------------------- requests and errors


async def test_bodies_headers_and_the_token_stays_on_its_host(peer, session):
    http = client(session, peer, [])
    await http.request("POST", "/items", json={"a": 1}, headers={"X-Trace": "1"})
    await http.request("POST", "/form", data=[("x[0]", "1"), ("y", "é")], ok=ANY_2XX)
    elsewhere = f"http://localhost:{peer.port}/signed?sig=secret"
    await http.request("GET", elsewhere)
    posted, form, other = peer.requests
    assert posted["body"] == b'{"a":1}' and posted["headers"]["Content-Type"] == "application/json"
    assert posted["headers"]["Authorization"] == "Bearer t0ken" and posted["headers"]["X-Trace"] == "1"
    assert form["body"] == b"x%5B0%5D=1&y=%C3%A9"
    assert "Authorization" not in other["headers"] and other["query"] == {"sig": "secret"}


async def test_messages_name_the_request_without_its_query(peer, session):
    http = client(session, peer, [])
    peer.script = [(404, {}, b"")]
    with pytest.raises(PermanentError) as raised:
        await http.request("GET", f"http://localhost:{peer.port}/signed?sig=secret")
    assert str(raised.value) == f"GET http://localhost:{peer.port}/signed: HTTP 404"
    peer.script = [(301, {"Location": "https://elsewhere/"}, b"")]
    with pytest.raises(PermanentError, match=r"^the LMS ping: HTTP 301 \(redirects are not followed; check the URL\)$"):
        await http.request("GET", "/moved", what="the LMS ping")
    assert len(peer.requests) == 2  # the redirect was not followed


async def test_peer_habits_detail_guessed_retry_after_refined_error_and_size(peer, session):
    http = client(session, peer, [], retry_after=lambda status, headers: 0.5 if status == 429 else None,
                  error_detail=lambda body: body.decode()[:20] or None,
                  refine_error=lambda error, answer, what: (
                      ConnectorConfigError(f"{what}: check the URL") if answer.status == 404 else error))
    peer.script = [(429, {}, b"")]
    with pytest.raises(RateLimitedError) as raised:
        await http.request("GET", "/items", retries=0)
    assert raised.value.retry_after == 0.5
    peer.script = [(400, {}, b"field 'x' is missing")]
    with pytest.raises(PermanentError, match=r"HTTP 400 \(field 'x' is missing\)$"):
        await http.request("GET", "/items")
    peer.script = [(404, {}, b"")]
    with pytest.raises(ConnectorConfigError, match="^GET /items: check the URL$"):
        await http.request("GET", "/items")
    peer.script = [(200, {}, b"x" * 100)]
    with pytest.raises(PermanentError, match="larger than 10 bytes"):
        await http.request("GET", "/items", max_bytes=10)


async def test_a_chunked_answer_under_max_bytes_is_read_whole(session, aiohttp_server_factory):
    """One read returns what is buffered, not the body: a signature image was cut to 10 kB of 100."""
    body = bytes(range(256)) * 400  # 102,400 bytes, sent in small chunks without a Content-Length

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for start in range(0, len(body), 1000):
            await response.write(body[start:start + 1000])
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/blob", chunked)
    port = (await aiohttp_server_factory(app)).port
    http = HttpSettings().client(lambda: session, base_url=f"http://127.0.0.1:{port}/", auth_headers=dict)
    assert (await http.request("GET", "/blob", max_bytes=200_000)).body == body
    with pytest.raises(PermanentError, match="larger than 50000 bytes"):
        await http.request("GET", "/blob", max_bytes=50_000)


# ---------------------------------------------------------------------------- paging


async def test_paginate_follows_the_tokens_and_stops_at_the_last_page_or_the_limit():
    listing = {None: ([1, 2], "b"), "b": ([], "c"), "c": ([3], None)}
    asked: list = []

    async def fetch(token):
        asked.append(token)
        items, next_token = listing[token]
        return Page(items, next_token)

    assert [page async for page in paginate(fetch, None, max_pages=10)] == [[1, 2], [3]]  # empty pages skipped
    assert asked == [None, "b", "c"]

    limited: list[int] = []

    async def offsets(offset: int) -> Page[int]:
        return Page([offset], offset + 1)

    pages = [page async for page in paginate(offsets, 0, max_pages=3, on_limit=lambda: limited.append(3))]
    assert pages == [[0], [1], [2]] and limited == [3]
