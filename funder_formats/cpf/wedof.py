"""Optional push of the EDOF declarations through Wedof, an EDOF intermediary with a public REST API.

The Caisse des Dépôts offers training organisations no public API for EDOF declarations; Wedof
does (``https://www.wedof.fr/api``, ``X-Api-Key`` header). The calls used here are those its
public integration documents (activepieces' ``wedof`` piece, ``registration-folders`` actions):

* entry: ``POST /registrationFolders/{externalId}/inTraining`` with ``{"date": "YYYY-MM-DD"}``;
* exit and service fait: ``POST /registrationFolders/{externalId}/serviceDone`` with
  ``{"date", "code", "absenceDuration" (hours), "forceMajeureAbsence", "trainingDuration" (hours)}``
  — from "in training" Wedof passes through "terminated" itself.

A push can be made twice: a run may crash after Wedof took a declaration and before the hub
recorded it, and the next run pushes it again. Wedof refuses a change to a state the folder has
already passed (a 4xx); the client then reads the folder (``GET /registrationFolders/{externalId}``)
and, when its ``state`` shows the declaration made (``inTraining`` or later for an entry,
``serviceDoneDeclared``/``serviceDoneValidated`` for a service fait), reports it made: the hub
records it once, and nothing is declared twice.

The exit reason ``code`` is one of Wedof's codes (``GET /registrationFoldersReasons?type=terminated``
lists them for an account): the hub does not guess them, the configuration maps each of its
reasons to one.

Runs on a worker thread (the export's), with the standard library's HTTP client, a timeout on
every call and a few retries (tenacity) on 429/5xx/network errors.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_random

from hub.durations import Duration

DEFAULT_URL = "https://www.wedof.fr/api"
#: a folder's states once each declaration is made (Wedof's registration-folder states)
SERVICE_DONE_STATES = frozenset({"serviceDoneDeclared", "serviceDoneValidated"})
DONE_STATES = {"inTraining": frozenset({"inTraining", "terminated"}) | SERVICE_DONE_STATES,
               "serviceDone": SERVICE_DONE_STATES}


class WedofReasonCodes(BaseModel):
    """Wedof's exit-reason codes for each of the hub's reasons (read them from your Wedof account)."""

    model_config = ConfigDict(extra="forbid")
    completed: str = Field(min_length=1, description="Code for a full completion")
    learner: str = Field(min_length=1, description="Code for a learner's dropout or unmade-up absence")
    of_postponed: str = Field(min_length=1, description="Code for an interruption by the organisation, with a postponement")
    of_cancelled: str = Field(min_length=1, description="Code for an interruption by the organisation, without postponement")
    force_majeure: str | None = Field(default=None, description="Code for a force-majeure exit (default: the 'learner' code)")


class WedofPush(BaseModel):
    """Push the declarations to EDOF through Wedof's API."""

    model_config = ConfigDict(extra="forbid")
    api_key: SecretStr = Field(description="Wedof API key; give it as ${env:VAR} or ${file:PATH}")
    base_url: str = Field(default=DEFAULT_URL, pattern=r"^https?://", description="Wedof API base URL")
    reason_codes: WedofReasonCodes = Field(description="Wedof's exit-reason code for each of the hub's reasons")
    timeout: Duration = Field(default=dt.timedelta(seconds=30), description="Timeout of each call")
    attempts: int = Field(default=3, ge=1, le=10, description="Attempts per call on 429, 5xx or network errors")


@dataclass
class PushOutcome:
    ok: bool
    status: int | None
    message: str


class _Retry(Exception):
    def __init__(self, status: int | None, message: str):
        super().__init__(message)
        self.status = status


class WedofClient:
    def __init__(self, config: WedofPush):
        self.config = config
        self.base = config.base_url.rstrip("/")

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> PushOutcome:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json", "X-Api-Key": self.config.api_key.get_secret_value(),
                   "User-Agent": "parcours-hub/0.1", **({"Content-Type": "application/json"} if data else {})}

        def once() -> PushOutcome:
            request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=self.config.timeout.total_seconds()) as response:
                    if method == "GET":
                        return PushOutcome(True, response.status, _state_of(response.read(1 << 20)))
                    return PushOutcome(True, response.status, "ok")
            except urllib.error.HTTPError as exc:
                if exc.code == 429 or exc.code >= 500:
                    raise _Retry(exc.code, f"HTTP {exc.code}") from None
                detail = exc.read(500).decode("utf-8", "replace").strip().replace("\n", " ")
                return PushOutcome(False, exc.code, f"HTTP {exc.code}: {detail[:200]}")
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                raise _Retry(None, f"network error: {getattr(exc, 'reason', exc)}") from None

        try:
            for attempt in Retrying(stop=stop_after_attempt(self.config.attempts), reraise=True,
                                    wait=wait_exponential(multiplier=0.2, max=5) + wait_random(0, 0.2),
                                    retry=retry_if_exception(lambda e: isinstance(e, _Retry))):
                with attempt:
                    return once()
        except _Retry as exc:
            return PushOutcome(False, exc.status, f"{exc} after {self.config.attempts} attempt(s)")
        raise AssertionError("unreachable")

    def _declare(self, dossier: str, step: str, body: dict[str, Any]) -> PushOutcome:
        """POST one declaration; when Wedof refuses it (4xx), the folder's state says whether it was
        made already (by an earlier run that crashed before recording it)."""
        folder = f"/registrationFolders/{_quote(dossier)}"
        outcome = self._call("POST", f"{folder}/{step}", body)
        if outcome.ok or outcome.status is None or not 400 <= outcome.status < 500 or outcome.status in (401, 403):
            return outcome
        current = self._call("GET", folder)
        if current.ok and current.message in DONE_STATES[step]:
            return PushOutcome(True, outcome.status, f"already made: the folder is {current.message} in Wedof")
        return outcome

    def declare_entry(self, dossier: str, date: dt.date) -> PushOutcome:
        return self._declare(dossier, "inTraining", {"date": date.isoformat()})

    def declare_service_done(self, dossier: str, *, date: dt.date, code: str, absence_hours: Decimal,
                             force_majeure: bool, training_hours: Decimal) -> PushOutcome:
        return self._declare(dossier, "serviceDone", {
            "date": date.isoformat(), "code": code, "absenceDuration": float(absence_hours),
            "forceMajeureAbsence": bool(force_majeure), "trainingDuration": float(training_hours)})

    def code_for(self, completion: str, reason: str | None, force_majeure: bool) -> str:
        codes = self.config.reason_codes
        if completion == "totale":
            return codes.completed
        if force_majeure:
            return codes.force_majeure or codes.learner
        return getattr(codes, reason or "learner")


def _state_of(body: bytes) -> str:
    """A registration folder's ``state`` (empty when the answer is not a folder)."""
    try:
        folder = json.loads(body)
    except ValueError:
        return ""
    return str(folder.get("state") or "") if isinstance(folder, dict) else ""


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")
