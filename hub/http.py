"""In-call HTTP for connectors: a timeout on every call, retries with backoff honouring Retry-After.

Every call has its own timeout. Connection failures, timeouts, HTTP 408/425/5xx and 429 are
retried with exponential backoff and jitter (tenacity), waiting at least what ``Retry-After``
asks for; a ``Retry-After`` longer than :data:`MAX_IN_CALL_WAIT` is not waited for in-call:
the error is raised so the hub reschedules the work. Other statuses raise the matching
:mod:`hub.errors` class at once. Messages name the method and path, never a credential.

Connectors call :func:`fetch` with ``self.context.http`` (the hub's shared aiohttp session).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import aiohttp
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_random_exponential

from hub.errors import AuthError, PermanentError, RetryableError, error_for_status

#: longest Retry-After (seconds) honoured inside one call; longer ones are left to the hub
MAX_IN_CALL_WAIT = 30.0


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes


def _retryable(exc: BaseException) -> bool:
    return (isinstance(exc, RetryableError) and not isinstance(exc, AuthError)
            and (exc.retry_after or 0.0) <= MAX_IN_CALL_WAIT)


def _wait(backoff: float):
    exponential = wait_random_exponential(multiplier=backoff, max=MAX_IN_CALL_WAIT)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hinted = getattr(exc, "retry_after", None) or 0.0
        return max(float(hinted), exponential(state))

    return wait


async def fetch(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    what: str,
    headers: Mapping[str, str],
    params: Sequence[tuple[str, str]] | None = None,
    timeout: float,
    attempts: int,
    backoff: float,
    log: Any = None,
) -> Response:
    """One API call with retries; returns the 2xx response or raises a :mod:`hub.errors` error."""

    def before_sleep(state: RetryCallState) -> None:
        if log is not None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning("retrying peer call", call=what, attempt=state.attempt_number,
                        wait_seconds=round(state.next_action.sleep if state.next_action else 0, 3), error=str(exc))

    retrying = AsyncRetrying(stop=stop_after_attempt(max(1, attempts)), wait=_wait(backoff),
                             retry=retry_if_exception(_retryable), reraise=True, before_sleep=before_sleep)
    async for attempt in retrying:
        with attempt:
            return await _once(session, method, url, what=what, headers=headers, params=params, timeout=timeout)
    raise AssertionError("unreachable")  # pragma: no cover


async def _once(session, method, url, *, what, headers, params, timeout) -> Response:
    try:
        async with session.request(method, url, headers=dict(headers), params=list(params or []),
                                   timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            body = await response.read()
            error = error_for_status(response.status, what, response.headers.get("Retry-After"))
            if error is not None:
                raise error
            if response.status >= 300:
                raise PermanentError(f"{what}: HTTP {response.status}")
            return Response(response.status, response.headers.get("Content-Type", ""), body)
    except aiohttp.InvalidURL:
        raise PermanentError(f"{what}: invalid URL") from None
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        raise RetryableError(f"{what}: {type(exc).__name__}") from None
