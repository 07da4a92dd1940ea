"""Moodle web services over REST: form-encoded POSTs to ``/webservice/rest/server.php``.

Moodle answers errors with HTTP 200 and a JSON body ``{"exception", "errorcode", "message"}``;
:func:`classify` turns that body into the hub's error taxonomy. Calls are retried inside the
call (tenacity) on 429, 5xx and network errors, honouring ``Retry-After`` up to a bound.
"""

from __future__ import annotations

import asyncio
import collections
import random
import re
from typing import Any, Iterable

import aiohttp
import orjson
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

from hub.errors import (
    AuthError,
    ConnectorConfigError,
    ConnectorError,
    PermanentError,
    RetryableError,
    error_for_status,
)

REST_PATH = "/webservice/rest/server.php"

#: errorcodes meaning the token itself is refused (wrong, expired, revoked, IP-restricted, user suspended)
TOKEN_ERRORS = {
    "invalidtoken", "invalidtimedtoken", "invalidiptoken", "usernotconfirmed", "suspended", "usersuspended",
    "invalidlogin", "forcepasswordchangenotice", "policynotagreed",
}
#: errorcodes meaning the token works but may not do this (function not in the service, missing capability)
ACCESS_ERRORS = {
    "accessexception", "nopermissions", "requireloginerror", "servicenotavailable", "servicerequireslogin",
    "wsaccessuserdeleted", "wsaccessusersuspended", "wsaccessusernologin", "wsaccessuserexpired",
    "wsaccessusernotconfirmed", "enablewsdescription", "protocolnotallowed",
}
#: errorcodes that say "try again later"
TRANSIENT_ERRORS = {"sitemaintenance", "dmlreadexception", "dmlwriteexception", "dbconnectionfailed",
                    "ddltablenotexist_or_upgrading", "upgraderunning"}
#: errorcodes of a record that vanished between two calls (user unenrolled, activity deleted)
VANISHED_ERRORS = {"invalidrecord", "invaliduser", "notenroled", "invalidcoursemodule", "invalidcourseid",
                   "coursehidden"}


class MoodleWSError(PermanentError):
    """Moodle answered an ``exception`` body that is neither an auth nor an access problem."""

    def __init__(self, message: str, *, function: str, exception: str, errorcode: str):
        super().__init__(message)
        self.function = function
        self.exception = exception
        self.errorcode = errorcode

    @property
    def vanished(self) -> bool:
        return self.errorcode in VANISHED_ERRORS


def classify(function: str, body: dict[str, Any]) -> ConnectorError:
    """The hub error for a Moodle ``exception`` body answered to ``function``."""
    exception = str(body.get("exception") or "")
    errorcode = str(body.get("errorcode") or "")
    message = _clean(str(body.get("message") or ""))
    debuginfo = _clean(str(body.get("debuginfo") or ""))
    said = f"{exception}/{errorcode}: {message}" + (f" ({debuginfo[:300]})" if debuginfo else "")
    if errorcode in TOKEN_ERRORS:
        return AuthError(
            f"Moodle refused the web-service token ({errorcode}: {message}): it is wrong, expired or revoked, "
            "or its user cannot log in. Create a new token (Site administration > Server > Web services > "
            "Manage tokens) and update the connector's token")
    if exception == "required_capability_exception" or errorcode == "nopermissions":
        capability = _capability(message, debuginfo)
        return ConnectorConfigError(
            f"Moodle: the token's user lacks a capability needed by {function}"
            + (f": {capability}" if capability else "")
            + f" ({said}). Grant it to the web-service user's role (see docs/connectors/moodle.md)")
    if exception == "webservice_access_exception" or errorcode in ACCESS_ERRORS:
        return ConnectorConfigError(
            f"Moodle: the token may not call {function} ({said}). Add {function} to the external service of "
            "the token (Site administration > Server > Web services > External services > Functions)")
    if errorcode in TRANSIENT_ERRORS:
        return RetryableError(f"Moodle {function}: {said}")
    if exception == "dml_missing_record_exception" and "external_functions" in message:
        return ConnectorConfigError(f"Moodle {function}: this Moodle has no such web-service function ({said})")
    return MoodleWSError(f"Moodle {function}: {said}", function=function, exception=exception, errorcode=errorcode)


_CAP_RE = re.compile(r"\b([a-z]+/[a-z0-9_]+:[a-z0-9_]+)\b")
_PAREN_RE = re.compile(r"\(([^()]+)\)\s*\.?\s*$")


def _capability(message: str, debuginfo: str) -> str | None:
    """The capability a ``required_capability_exception`` names (debuginfo, or the message's end)."""
    for text in (debuginfo, message):
        found = _CAP_RE.search(text)
        if found:
            return found.group(1)
    found = _PAREN_RE.search(message)  # "… permissions to do that (View participants)."
    return found.group(1) if found else None


def _clean(text: str) -> str:
    return " ".join(text.split())


def form_fields(params: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Moodle's REST encoding: ``courseids[0]=3``, ``options[ids][0]=3``, booleans as 1/0."""
    out: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}[{key}]" if prefix else str(key), item)
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                walk(f"{prefix}[{index}]", item)
        elif isinstance(value, bool):
            out.append((prefix, "1" if value else "0"))
        elif value is not None:
            out.append((prefix, str(value)))

    walk("", params or {})
    return out


class MoodleWS:
    """A small client: one method, :meth:`call`, with timeouts, retries and a call counter."""

    def __init__(self, *, base_url: str, token: str, session_getter: Any, timeout: float, max_retries: int,
                 max_retry_wait: float, concurrency: int, log: Any):
        self.url = base_url.rstrip("/") + REST_PATH
        self._token = token
        self._session = session_getter
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self.log = log
        self.calls: collections.Counter[str] = collections.Counter()
        self.http_requests = 0
        self._limit = asyncio.Semaphore(concurrency)

    async def call(self, function: str, params: dict[str, Any] | None = None) -> Any:
        """Call ``function`` and return the decoded answer; raise a :mod:`hub.errors` error otherwise."""
        self.calls[function] += 1
        fields = [("wstoken", self._token), ("wsfunction", function), ("moodlewsrestformat", "json")]
        fields += form_fields(params)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_retries + 1),
            retry=retry_if_exception(self._should_retry),
            wait=self._wait,
            reraise=True,
            before_sleep=self._before_sleep,
        )
        async with self._limit:
            async for attempt in retrying:
                with attempt:
                    return await self._post(function, fields)
        raise AssertionError("unreachable")  # pragma: no cover

    def _should_retry(self, exc: BaseException) -> bool:
        if not isinstance(exc, RetryableError):
            return False
        return exc.retry_after is None or exc.retry_after <= self.max_retry_wait

    def _wait(self, retry_state: Any) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        after = getattr(exc, "retry_after", None)
        if after is not None:
            return float(min(after, self.max_retry_wait))
        backoff = min(10.0, 0.5 * 2 ** (retry_state.attempt_number - 1))
        return backoff * (0.5 + random.random() / 2)

    def _before_sleep(self, retry_state: Any) -> None:
        exc = retry_state.outcome.exception()
        self.log.warning("moodle call retried", error=str(exc), attempt=retry_state.attempt_number,
                         wait_seconds=round(retry_state.next_action.sleep, 2) if retry_state.next_action else None)

    async def _post(self, function: str, fields: list[tuple[str, str]]) -> Any:
        self.http_requests += 1
        what = f"Moodle {function}"
        try:
            async with self._session().post(self.url, data=fields,
                                            timeout=aiohttp.ClientTimeout(total=self.timeout)) as response:
                body = await response.read()
                error = error_for_status(response.status, what, response.headers.get("Retry-After"))
                if error is not None:
                    raise error
                status, ctype = response.status, response.headers.get("Content-Type", "")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise RetryableError(f"{what}: {type(exc).__name__} {_clean(str(exc))[:200]}".rstrip()) from None
        try:
            data = orjson.loads(body) if body.strip() else None
        except orjson.JSONDecodeError:
            raise ConnectorConfigError(
                f"{what}: the answer is not JSON (HTTP {status}, {ctype or 'no content type'}): is `url` the root "
                "of the Moodle site, with web services and the REST protocol enabled?") from None
        if isinstance(data, dict) and "exception" in data and "errorcode" in data:
            raise classify(function, data)
        if isinstance(data, dict):
            for warning in data.get("warnings") or []:
                if isinstance(warning, dict):
                    self.log.debug("moodle warning", function=function, code=warning.get("warningcode"),
                                  item=warning.get("item"), itemid=warning.get("itemid"),
                                  message=warning.get("message"))
        return data


def chunks(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
