"""Moodle web services over REST: form-encoded POSTs to ``/webservice/rest/server.php``.

Moodle answers errors with HTTP 200 and a JSON body ``{"exception", "errorcode", "message"}``;
:func:`classify` turns that body into the hub's error taxonomy. Calls are retried inside the
call by the hub's HTTP client on 429, 5xx and network errors, honouring ``Retry-After`` up to
``retry_max_wait``.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import orjson

from hub.errors import AuthError, ConnectorConfigError, ConnectorError, PermanentError, RetryableError
from hub.http import ANY_2XX, HttpClient

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
    """A small client: one method, :meth:`call`, over the hub's :class:`~hub.http.HttpClient`
    (timeouts, retries), with a bound on the calls in flight."""

    def __init__(self, http: HttpClient, *, token: str, concurrency: int, log: Any):
        self.http = http
        self._token = token
        self.log = log
        self._limit = asyncio.Semaphore(concurrency)

    async def call(self, function: str, params: dict[str, Any] | None = None) -> Any:
        """Call ``function`` and return the decoded answer; raise a :mod:`hub.errors` error otherwise."""
        fields = [("wstoken", self._token), ("wsfunction", function), ("moodlewsrestformat", "json")]
        fields += form_fields(params)
        what = f"Moodle {function}"
        async with self._limit:
            response = await self.http.request("POST", REST_PATH, data=fields, ok=ANY_2XX, what=what)
        body, ctype = response.body, response.content_type
        try:
            data = orjson.loads(body) if body.strip() else None
        except orjson.JSONDecodeError:
            raise ConnectorConfigError(
                f"{what}: the answer is not JSON (HTTP {response.status}, {ctype or 'no content type'}): is `url` the "
                "root of the Moodle site, with web services and the REST protocol enabled?") from None
        if isinstance(data, dict) and "exception" in data and "errorcode" in data:
            raise classify(function, data)
        if isinstance(data, dict):
            for warning in data.get("warnings") or []:
                if isinstance(warning, dict):
                    self.log.debug("moodle warning", function=function, code=warning.get("warningcode"),
                                  item=warning.get("item"), itemid=warning.get("itemid"),
                                  message=warning.get("message"))
        return data
