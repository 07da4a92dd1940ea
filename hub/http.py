"""The one HTTP client of connectors: timeouts, retries honouring Retry-After, paging, error classes.

A connector whose peer speaks HTTP inherits :class:`HttpSettings` in its config (``timeout``,
``retries``, ``retry_backoff``, ``retry_max_wait``) and builds an :class:`HttpClient` around the
hub's shared session with :meth:`HttpSettings.client`; :func:`fetch` serves a one-off request.

Every call has its own timeout. Transient failures (connection errors, timeouts, HTTP 5xx,
408/425 and 429) are retried with random exponential backoff computed by tenacity, never sooner
than the peer's ``Retry-After``; when the peer asks for a longer pause than ``retry_max_wait`` the
error is raised at once so that the hub reschedules the work instead of holding a worker. Errors
are classes of :mod:`hub.errors`; messages carry the method, the path and the status, never a
header, a token or a body. :func:`paginate` walks the pages of a listing, whatever names its
next page (a link, an offset, a cursor).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    ClassVar,
    Generic,
    Mapping,
    TypeVar,
)
from urllib.parse import urlsplit

import aiohttp
import orjson
import yarl
from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator
from pydantic.fields import FieldInfo
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random_exponential,
)

from hub.durations import Duration
from hub.errors import ConnectorError, PermanentError, RetryableError, UnreachableError, error_for_status
from hub.redaction import redact_url

#: a callable mapping (status, headers) to a retry delay in seconds, or None
RetryAfter = Callable[[int, Mapping[str, str]], "float | None"]

#: longest Retry-After (seconds) honoured inside one call by :func:`fetch`; longer ones go back to the hub
MAX_IN_CALL_WAIT = 30.0

Token = TypeVar("Token")


class HttpSettings(BaseModel):
    """How a connector calls its peer over HTTP. A connector's ``Config`` inherits these keys:
    ``class MyConfig(ConnectorConfig, HttpSettings)``, or ``HttpSettings.with_defaults(…)`` for
    other defaults."""

    model_config = ConfigDict(extra="forbid")
    timeout: Duration = Field(default=dt.timedelta(seconds=30),
                              description="Time limit of one HTTP request to the peer")
    retries: int = Field(default=3, ge=0, le=10,
                         description="In-call retries of a transient failure (HTTP 429, 408, 425, 5xx, network)")
    retry_backoff: Duration = Field(
        default=dt.timedelta(seconds=1),
        description="First retry delay; it doubles at each retry (random exponential backoff)")
    retry_max_wait: Duration = Field(
        default=dt.timedelta(seconds=30),
        description="Longest in-call wait; a longer Retry-After is left to the hub's scheduler")

    #: former names of these keys in a connector's config, still accepted: ``{old: new}``; the
    #: new name ``attempts`` means tries (``retries`` + 1)
    former_http_keys: ClassVar[Mapping[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _accept_former_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not any(old in data for old in cls.former_http_keys):
            return data
        data = dict(data)
        for old, new in cls.former_http_keys.items():
            if old not in data:
                continue
            key = "retries" if new == "attempts" else new
            if key in data:
                raise ValueError(f"give {key!r} only: {old!r} is its former name")
            value = data.pop(old)
            is_count = isinstance(value, int) and not isinstance(value, bool)
            data[key] = value - 1 if new == "attempts" and is_count else value
        return data

    @classmethod
    def with_defaults(cls, **defaults: Any) -> type["HttpSettings"]:
        """These settings with other defaults, for a connector whose peer needs them."""
        fields: dict[str, Any] = {}
        for name, value in defaults.items():
            info = cls.model_fields[name]
            fields[name] = (info.annotation, FieldInfo.merge_field_infos(info, default=value))
        return create_model(cls.__name__, __base__=cls, __module__=cls.__module__, **fields)

    def client(self, session_factory: Callable[[], aiohttp.ClientSession], *, base_url: str,
               auth_headers: Callable[[], dict[str, str]] = dict, **options: Any) -> "HttpClient":
        """An :class:`HttpClient` with these settings; ``options`` are its other keyword arguments."""
        return HttpClient(session_factory, base_url=base_url, auth_headers=auth_headers,
                          timeout=self.timeout.total_seconds(), retries=self.retries,
                          backoff=self.retry_backoff.total_seconds(), max_wait=self.retry_max_wait.total_seconds(),
                          **options)


@dataclass
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    def json(self, what: str) -> Any:
        try:
            return orjson.loads(self.body) if self.body else None
        except orjson.JSONDecodeError:
            raise RetryableError(f"{what}: the answer is not JSON (HTTP {self.status})") from None


#: every 2xx status, for peers that may answer any of them
ANY_2XX = tuple(range(200, 300))


class HttpClient:
    """Small retrying client around the hub's shared aiohttp session.

    ``retry_after`` guesses a delay when a retryable answer carries no ``Retry-After``;
    ``error_detail`` adds the peer's own words (from the body) to a 4xx error;
    ``refine_error(error, answer, what)`` returns the error to raise instead of ``error`` for an
    unexpected answer (a connector's clearer message); ``sleep`` waits between tries (tests
    record the waits)."""

    def __init__(
        self,
        session_factory: Callable[[], aiohttp.ClientSession],
        *,
        base_url: str,
        auth_headers: Callable[[], dict[str, str]],
        timeout: float,
        retries: int,
        backoff: float,
        max_wait: float,
        retry_after: RetryAfter | None = None,
        error_detail: Callable[[bytes], "str | None"] | None = None,
        refine_error: Callable[[ConnectorError, Response, str], ConnectorError] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        log: Any = None,
    ):
        self._session = session_factory
        self.base_url = base_url.rstrip("/")
        self._auth_headers = auth_headers
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self._retry_after = retry_after
        self._error_detail = error_detail
        self._refine_error = refine_error
        self._sleep = sleep
        self._log = log
        parts = urlsplit(self.base_url)
        self._origin = (parts.scheme, parts.netloc)

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    def _same_origin(self, url: str) -> bool:
        parts = urlsplit(url)
        return (parts.scheme, parts.netloc) == self._origin

    async def request(
        self,
        method: str,
        path: "str | yarl.URL",
        *,
        params: Any = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (200, 201, 204, 207),
        max_bytes: int | None = None,
        retries: int | None = None,
        what: str | None = None,
    ) -> Response:
        """Send a request, retrying transient failures; return the response or raise.

        ``path`` is relative to the base URL or absolute (a ``yarl.URL`` is sent as it is,
        without re-quoting); ``json`` is a body to encode, ``data`` a body as it is (bytes, or
        form fields); ``headers`` are added to this request; ``retries`` overrides the client's
        (e.g. 0 for a health check); ``what`` names the request in error messages (default: the
        method and the path, or the URL without its query string)."""
        what = what or _describe(method, str(path))
        max_wait = self.max_wait

        def should_retry(exc: BaseException) -> bool:
            if not isinstance(exc, RetryableError):
                return False
            return exc.retry_after is None or exc.retry_after <= max_wait

        half = self.backoff / 2  # half of each step is fixed, half is random: never much less than the step
        backoff = (wait_exponential(multiplier=half, max=max_wait / 2)
                   + wait_random_exponential(multiplier=half, max=max_wait / 2))

        def wait(state: Any) -> float:
            exc = state.outcome.exception() if state.outcome else None
            after = getattr(exc, "retry_after", None) or 0.0
            return min(max(backoff(state), after), max_wait)

        options = {"sleep": self._sleep} if self._sleep is not None else {}
        retrying = AsyncRetrying(stop=stop_after_attempt((self.retries if retries is None else retries) + 1),
                                 wait=wait, retry=retry_if_exception(should_retry), reraise=True, **options)
        async for attempt in retrying:
            with attempt:
                number = attempt.retry_state.attempt_number
                if number > 1 and self._log is not None:
                    self._log.info("retrying request", request=what, attempt=number)
                return await self._once(method, path, what, params, json, data, headers, ok, max_bytes)
        raise AssertionError("unreachable")  # pragma: no cover

    def _headers(self, url: str, json: Any, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self._same_origin(url):  # never send the token to another host (signature images, redirects)
            headers.update(self._auth_headers())
        if json is not None:
            headers["Content-Type"] = "application/json"
        headers.update(extra or {})
        return headers

    async def _once(self, method, path, what, params, json, data, extra_headers, ok, max_bytes) -> Response:
        url = path if isinstance(path, yarl.URL) else self.url(path)
        headers = self._headers(str(url), json, extra_headers)
        if json is not None:
            data = orjson.dumps(json)
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            async with self._session().request(method, url, params=params, data=data, headers=headers,
                                               timeout=timeout, allow_redirects=False) as response:
                if max_bytes is not None and (response.content_length or 0) > max_bytes:
                    raise PermanentError(f"{what}: answer larger than {max_bytes} bytes")
                body = await _read_at_most(response, max_bytes, what) if max_bytes is not None else await response.read()
                answer = Response(response.status, response.headers, body)
        except (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError, asyncio.TimeoutError) as exc:
            raise UnreachableError(f"{what}: {type(exc).__name__}") from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise RetryableError(f"{what}: {type(exc).__name__}") from None
        except aiohttp.InvalidURL:
            raise PermanentError(f"{what}: invalid URL") from None
        if answer.status in ok:
            return answer
        error = self._error(answer, what)
        raise self._refine_error(error, answer, what) if self._refine_error is not None else error

    def _error(self, answer: Response, what: str) -> ConnectorError:
        """The :mod:`hub.errors` class for an answer that is not one of the expected statuses."""
        status = answer.status
        if 300 <= status < 400:
            return PermanentError(f"{what}: HTTP {status} (redirects are not followed; check the URL)")
        error = error_for_status(status, what, answer.headers.get("Retry-After"))
        if error is None:  # a 2xx we did not expect
            return PermanentError(f"{what}: unexpected HTTP {status}")
        if error.retryable and error.retry_after is None and self._retry_after is not None:
            error.retry_after = self._retry_after(status, answer.headers)
        if 400 <= status < 500 and self._error_detail is not None:
            detail = self._error_detail(answer.body)
            if detail:
                error.args = (f"{error.args[0]} ({detail[:300]})",)
        return error


async def _read_at_most(response: aiohttp.ClientResponse, max_bytes: int, what: str) -> bytes:
    """The whole body, chunk after chunk (one read returns what is buffered, not the body), or a
    PermanentError as soon as it passes ``max_bytes``."""
    body = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > max_bytes:
            raise PermanentError(f"{what}: answer larger than {max_bytes} bytes")
    return bytes(body)


def _describe(method: str, path: str) -> str:
    """``METHOD /path`` or ``METHOD scheme://host/path``: never a query string (signed URLs carry
    credentials there)."""
    if path.startswith("/"):
        return f"{method} {path.split('?', 1)[0]}"
    parts = urlsplit(redact_url(path))
    return f"{method} {parts.scheme}://{parts.netloc}{parts.path}"


@dataclass
class Page(Generic[Token]):
    """One page of a listing: its ``items`` and the token of the next page (a link, an offset, a
    cursor), None on the last page."""

    items: list[Any]
    next: Token | None


async def paginate(fetch: Callable[[Token], Awaitable[Page[Token]]], first: Token, *, max_pages: int,
                   on_limit: Callable[[], None] | None = None) -> AsyncIterator[list[Any]]:
    """The non-empty pages of a listing, read with ``fetch(token)`` from ``first`` on, at most
    ``max_pages`` of them; ``on_limit`` is called when the limit stops the walk."""
    token = first
    for _ in range(max_pages):
        page = await fetch(token)
        if page.items:
            yield page.items
        if page.next is None:
            return
        token = page.next
    if on_limit is not None:
        on_limit()


async def fetch(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    what: str | None = None,
    headers: Mapping[str, str],
    params: Any = None,
    timeout: float,
    attempts: int,
    backoff: float,
    log: Any = None,
) -> Response:
    """One request to ``url`` with ``headers`` (credentials included), retried like :class:`HttpClient`;
    any 2xx is success. ``what`` names it in messages (default: the URL without its query string)."""
    client = HttpClient(lambda: session, base_url=url, auth_headers=lambda: {"Accept": "*/*", **headers}, timeout=timeout,
                        retries=max(0, attempts - 1), backoff=backoff, max_wait=MAX_IN_CALL_WAIT, log=log)
    return await client.request(method, url, params=params, ok=ANY_2XX, what=what)
