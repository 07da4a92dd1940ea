"""HTTP for connectors: a timeout on every call, in-call retries honouring Retry-After.

Connectors build an :class:`HttpClient` around the hub's shared session (``self.context.http``)
or call :func:`fetch` for a one-off request.

Every call has its own timeout. Transient failures (connection errors, timeouts, HTTP 5xx,
408/425 and 429) are retried a few times with random exponential backoff computed by
tenacity, never sooner than the peer's ``Retry-After``; when the peer asks for a longer pause
than ``max_wait`` the error is raised at once so that the hub reschedules the work instead of
holding a worker. Errors are classes of :mod:`hub.errors`; messages carry the method, the path
and the status, never a header, a token or a body.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

import aiohttp
import orjson
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from hub.errors import ConnectorError, PermanentError, RetryableError, error_for_status

#: a callable mapping (status, headers) to a retry delay in seconds, or None
RetryAfter = Callable[[int, Mapping[str, str]], "float | None"]


#: longest Retry-After (seconds) honoured inside one call by :func:`fetch`; longer ones go back to the hub
MAX_IN_CALL_WAIT = 30.0


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


class HttpClient:
    """Small retrying client around the hub's shared aiohttp session."""

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
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        ok: tuple[int, ...] = (200, 201, 204, 207),
        max_bytes: int | None = None,
    ) -> Response:
        """Send a request, retrying transient failures; return the response or raise."""
        what = f"{method} {path.split('?', 1)[0] if path.startswith('/') else _redact_url(path)}"

        def should_retry(exc: BaseException) -> bool:
            if not isinstance(exc, RetryableError):
                return False
            return exc.retry_after is None or exc.retry_after <= self.max_wait

        def wait(state: Any) -> float:
            base = wait_random_exponential(multiplier=self.backoff, max=self.max_wait)(state)
            exc = state.outcome.exception() if state.outcome else None
            after = getattr(exc, "retry_after", None) or 0.0
            return min(max(base, after), self.max_wait)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retries + 1), wait=wait, retry=retry_if_exception(should_retry), reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                number = attempt.retry_state.attempt_number
                if number > 1 and self._log is not None:
                    self._log.info("retrying request", request=what, attempt=number)
                return await self._once(method, path, what, params, json, ok, max_bytes)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(self, method, path, what, params, json, ok, max_bytes) -> Response:
        url = self.url(path)
        headers = {"Accept": "application/json"}
        if self._same_origin(url):  # never send the token to another host (signature images, redirects)
            headers.update(self._auth_headers())
        data = None
        if json is not None:
            headers["Content-Type"] = "application/json"
            data = orjson.dumps(json)
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            async with self._session().request(method, url, params=params, data=data, headers=headers,
                                               timeout=timeout, allow_redirects=False) as response:
                if max_bytes is not None and (response.content_length or 0) > max_bytes:
                    raise PermanentError(f"{what}: answer larger than {max_bytes} bytes")
                body = await response.content.read(max_bytes + 1) if max_bytes is not None else await response.read()
                if max_bytes is not None and len(body) > max_bytes:
                    raise PermanentError(f"{what}: answer larger than {max_bytes} bytes")
                status, resp_headers = response.status, response.headers
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError) as exc:
            raise RetryableError(f"{what}: {type(exc).__name__}") from None
        except aiohttp.InvalidURL:
            raise PermanentError(f"{what}: invalid URL") from None
        if status in ok:
            return Response(status, resp_headers, body)
        if 300 <= status < 400:
            raise PermanentError(f"{what}: HTTP {status} (redirects are not followed; check the URL)")
        retry_after = resp_headers.get("Retry-After")
        error: ConnectorError | None = error_for_status(status, what, retry_after)
        if error is None:  # a 2xx we did not expect
            raise PermanentError(f"{what}: unexpected HTTP {status}")
        if error.retryable and error.retry_after is None and self._retry_after is not None:
            error.retry_after = self._retry_after(status, resp_headers)
        if 400 <= status < 500 and self._error_detail is not None:
            detail = self._error_detail(body)
            if detail:
                error.args = (f"{error.args[0]} ({detail[:300]})",)
        raise error


def _redact_url(url: str) -> str:
    """An absolute URL without its query string (signed URLs carry credentials there)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


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
    any 2xx is success."""
    client = HttpClient(lambda: session, base_url=url, auth_headers=lambda: {"Accept": "*/*", **headers}, timeout=timeout,
                        retries=max(0, attempts - 1), backoff=backoff, max_wait=MAX_IN_CALL_WAIT, log=log)
    return await client.request(method, url, params=params, ok=tuple(range(200, 300)))
