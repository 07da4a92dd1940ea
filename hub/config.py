"""Hub configuration: YAML with secrets from ``${env:VAR}`` / ``${file:PATH}``, validated by pydantic.

Every error names the file, the line and the YAML path (``config/hub.yaml:14:
connectors.moodle.url: invalid URL``). Loading is two-phase: the hub's own sections first,
then each connector block against the ``Config`` model of its ``kind``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import fnmatch
import os
import re
import types
import typing
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from hub.access import SECOND_FACTOR_REQUIRED, Role, Scopes, check_scopes
from hub.connector import Connector, ConnectorConfig, EventSink, PullSource
from hub.consents.settings import ConsentsConfig
from hub.badges.settings import BadgesConfig
from hub.documents.settings import DocumentsConfig
from hub.durations import SCHEMA_PATTERN, Duration, iso_to_human
from hub.errors import ConfigError
from hub.journeys.actions import RealisationRules, TrainingAction
from hub.journeys.calendar import calendar_name
from hub.journeys.alerts import AlertsConfig
from hub.privacy.settings import RetentionConfig
from hub.risk.settings import RiskConfig
from hub.siret import siret_valid
from hub.timefmt import check_timezone
from hub.web.settings import EmailLinkConfig, OidcConfig

DEFAULT_CONFIG = "config/hub.yaml"
_REF = re.compile(r"\$\{(env|file):([^}:]+)(?::-([^}]*))?\}")


# --------------------------------------------------------------------------- models


class StoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(
        default="sqlite:///var/hub.db",
        description="sqlite:///relative/or/absolute/path.db, or postgresql://user@host/db",
    )
    synchronous: Literal["full", "normal"] = Field(
        default="full", description="SQLite durability: 'full' survives power loss, 'normal' only crashes"
    )

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not (value.startswith("sqlite:///") or value.startswith(("postgresql://", "postgres://"))):
            raise ValueError("store url must start with sqlite:/// or postgresql://")
        return value


class HttpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    admin_token: SecretStr | None = Field(
        default=None, description="Bearer token for /api/*; without it the admin API answers 503"
    )
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    request_timeout: Duration = Field(default=dt.timedelta(seconds=30))
    public_url: str | None = Field(default=None, description="Base URL printed in verification links")


class DeliveryConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    batch_size: int = Field(default=100, ge=1, le=10_000)
    max_attempts: int = Field(default=12, ge=1)
    max_age: Duration = Field(default=dt.timedelta(days=3), description="Dead-letter older undelivered events")
    backoff_initial: Duration = Field(default=dt.timedelta(seconds=5))
    backoff_max: Duration = Field(default=dt.timedelta(hours=1))
    pause_after_failures: int = Field(default=5, ge=1, description="Consecutive failed batches before a sink pauses")
    pause_for: Duration = Field(default=dt.timedelta(minutes=2))
    poll_interval: Duration = Field(default=dt.timedelta(seconds=1))


class LoggingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = Field(
        default="auto", description="auto: readable on a terminal, JSON lines otherwise"
    )


class LearnersConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    match_on: list[str] = Field(
        default_factory=lambda: ["email"],
        description="Identifiers that link one learner's records across sources: 'email' and/or id "
        "namespaces sources report (e.g. 'nir', 'hubspot_contact'). The id in one source always links.",
    )
    mapping_file: str | None = Field(
        default=None, description="CSV (learner,source,value) of explicit links, applied at start-up"
    )

    @field_validator("match_on")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.match(r"^[a-z][a-z0-9_]*$", name):
                raise ValueError(f"{name!r}: use 'email' or an id namespace such as 'nir'")
        return value


class LedgerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seal_every: Duration = Field(default=dt.timedelta(minutes=1), description="How often the daemon seals new events")
    max_block_events: int = Field(default=10_000, ge=1, le=1_000_000, description="Events per sealed block at most")
    tsa_url: str | None = Field(
        default=None, description="RFC 3161 time-stamping authority (http:// or https:// URL): when set, sealed blocks "
        "are anchored with its time-stamp tokens (see docs/integrity.md)",
    )
    tsa_ca: list[str] = Field(
        default_factory=list, description="PEM file(s) of the CA certificate(s) the TSA's certificate chains to, used to "
        "check tokens; empty: the system's trust store",
    )
    anchor_every: Duration | None = Field(
        default=None, description="Unset: anchor the newest block at every seal that leaves it unanchored; a duration: "
        "anchor the newest block at most about once per period",
    )
    tsa_username: str | None = Field(default=None, description="HTTP Basic user, for a TSA that needs an account")
    tsa_password: SecretStr | None = Field(default=None, description="HTTP Basic password (use ${env:…} or ${file:…})")
    tsa_timeout: Duration = Field(default=dt.timedelta(seconds=10), description="Timeout of one time-stamp request")
    head_file: str | None = Field(
        default=None, description="Where the signed ledger head is written after each seal and anchor, outside the "
        "database (default: <data_dir>-ledger-head.json beside the data dir); verify compares the store with it",
    )
    head_key: str | None = Field(
        default=None, description="The Ed25519 key that signs the ledger head when the document key ring has no "
        "active key (PEM; generated on first seal; default: <data_dir>/ledger-head.key)",
    )

    @field_validator("tsa_ca", mode="before")
    @classmethod
    def _one_or_more(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("tsa_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("tsa_url must be an http:// or https:// URL")
        return value


class Organisation(BaseModel):
    """The training organisation's identity, as printed on documents and reports."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, description="Raison sociale")
    siret: str = Field(pattern=r"^\d{14}$", description="SIRET (14 digits)")
    nda: str | None = Field(default=None, pattern=r"^\d{11}$", description="Numéro de déclaration d'activité (11 digits)")
    address: str | None = Field(default=None, description="Postal address printed on documents")
    representative: str | None = Field(default=None, description="Legal representative who signs documents")
    representative_title: str | None = Field(default=None, description="e.g. Directrice, Gérant")
    city: str | None = Field(default=None, description="Place of signature ('Fait à …')")

    @field_validator("siret")
    @classmethod
    def _siret(cls, value: str) -> str:
        if not siret_valid(value):
            raise ValueError("invalid SIRET (its check digit does not match)")
        return value


class DeclaredAccount(BaseModel):
    """A web app account declared in the configuration (docs/web-app.md): created or brought in
    line when the daemon starts; secrets only through ${env:…} or ${file:…}."""

    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320, description="The account's e-mail address (its sign-in name)")
    role: Role = Field(description="What the account may open")
    name: str | None = Field(default=None, description="The person's name, shown in the pages")
    actions: list[str] = Field(default_factory=list, description="Training actions in its scope (trainer, manager, auditor)")
    funders: list[str] = Field(default_factory=list, description="Funders in its scope (funder)")
    learner: str | None = Field(default=None, description="The learner whose journey it is: hub id or key (learner)")
    password_hash: SecretStr = Field(description="An Argon2id hash from `parcours accounts hash-password` "
                                     "(use ${env:…} or ${file:…})")
    totp_secret: SecretStr | None = Field(default=None, description="Base32 TOTP secret, required for every role "
                                          "but learner (use ${env:…} or ${file:…})")

    @model_validator(mode="after")
    def _fits_its_role(self) -> "DeclaredAccount":
        check_scopes(self.role, Scopes(tuple(self.actions), tuple(self.funders), self.learner))
        if self.role in SECOND_FACTOR_REQUIRED and self.totp_secret is None:
            raise ValueError(f"a {self.role} account needs its totp_secret (every role but learner signs in with one)")
        if not self.password_hash.get_secret_value().startswith("$argon2id$"):
            raise ValueError("password_hash is not an Argon2id hash (make one with `parcours accounts hash-password`)")
        return self


class WebConfig(BaseModel):
    """The web app served under /app/ (hub.web): sessions, sign-in limits, declared accounts.
    Accounts are also created with `parcours accounts add` (docs/web-app.md)."""

    model_config = ConfigDict(extra="forbid")
    session_secret: SecretStr | None = Field(
        default=None, description="Key that signs the session cookies, at least 32 characters (use ${env:…} or "
        "${file:…}); default: one generated once in <data_dir>/web/session-secret")
    session_lifetime: Duration = Field(default=dt.timedelta(hours=12),
                                       description="A session ends this long after sign-in, used or not")
    session_idle: Duration = Field(default=dt.timedelta(hours=2),
                                   description="A session ends after this long without a request")
    login_max_failures: int = Field(default=5, ge=1, le=100,
                                    description="Failed sign-ins (per e-mail address, and per client address "
                                    "times four) within login_failure_window that lock sign-in out")
    login_failure_window: Duration = Field(default=dt.timedelta(minutes=15),
                                           description="Failures older than this are forgotten")
    lockout: Duration = Field(default=dt.timedelta(minutes=15), description="How long a lockout lasts")
    accounts: list[DeclaredAccount] = Field(
        default_factory=list, description="Accounts kept as declared here when the daemon starts (docs/web-app.md)")
    email_link: EmailLinkConfig = Field(default_factory=EmailLinkConfig,
                                        description="Sign-in by a link sent by e-mail, for learners")
    oidc: OidcConfig | None = Field(default=None, description="Sign-in of staff through the organisation's "
                                    "OpenID Connect provider (Google, Microsoft Entra ID…)")


class HubSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="Parcours Hub", description="The training organisation's name")
    timezone: str = "Europe/Paris"
    data_dir: str = Field(default="var", description="Folder for the SQLite file, blobs and outputs")
    blobs_dir: str | None = Field(default=None, description="Evidence blobs folder (default: <data_dir>/blobs)")
    store: StoreConfig = Field(default_factory=StoreConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    learners: LearnersConfig = Field(default_factory=LearnersConfig)
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig, description="Dropout-prevention alerts (Qualiopi indicator 12)")
    risk: RiskConfig = Field(default_factory=RiskConfig, description="Dropout risk: the model, its threshold "
                             "and the `risk.flagged` events (docs/risk.md)")
    documents: DocumentsConfig = Field(
        default_factory=DocumentsConfig, description="Certificats and attestations: keys, templates, PAdES")
    consents: ConsentsConfig = Field(default_factory=ConsentsConfig,
                                     description="Purposes that need the person's consent (docs/consents.md)")
    retention: RetentionConfig = Field(
        default_factory=RetentionConfig, description="How long personal data is kept, by kind (docs/retention.md)")
    organisation: Organisation | None = Field(default=None, description="Identity printed on documents and reports")
    badges: BadgesConfig = Field(default_factory=BadgesConfig, description="Open Badges 3.0 for milestones (opt-in; "
                                 "docs/badges.md)")
    realisation: RealisationRules = Field(
        default_factory=RealisationRules, description="How realised hours are counted (actions may override)")
    web: WebConfig = Field(default_factory=WebConfig,
                           description="The web app (/app/): sessions, sign-in limits, declared accounts")
    calendar: str = Field(
        default="metropole", description="Public holidays where the organisation trains (actions may override): "
        "metropole, alsace_moselle, guadeloupe, martinique, guyane, reunion, mayotte, saint_barthelemy, "
        "saint_martin, or a department number (57, 67, 68, 971…)")

    @field_validator("calendar")
    @classmethod
    def _calendar(cls, value: str) -> str:
        return calendar_name(value)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_timezone(value)

    @model_validator(mode="after")
    def _badges_have_an_issuer(self) -> "HubSection":
        if self.badges.enabled and self.organisation is None:
            raise ValueError("badges.enabled: badges are issued by the organisation: hub.organisation is required "
                             "(name, siret, nda, representative, city)")
        return self


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class RouteWhen(BaseModel):
    model_config = ConfigDict(extra="forbid")
    types: list[str] = Field(default_factory=lambda: ["*"], description="Event-type globs, e.g. lms.*")
    actions: list[str] | None = Field(default=None, description="Training-action ids or globs")
    funders: list[str] | None = Field(default=None, description="Funders of the learner's enrolment")
    consent: list[str] | None = Field(
        default=None, description="Consent purposes (hub.consents) that must be in force for the event's learner, "
                                  "e.g. employer_progress: events without a learner or without that consent are "
                                  "not routed")

    _lists = field_validator("types", "actions", "funders", "consent", mode="before")(_as_list)


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    from_: list[str] = Field(alias="from", min_length=1, description="Source connector names, 'api' or '*'")
    when: RouteWhen = Field(default_factory=RouteWhen)
    to: list[str] = Field(min_length=1, description="Sink connector names")
    enabled: bool = True

    _lists = field_validator("from_", "to", mode="before")(_as_list)


class HubConfig(BaseModel):
    """The whole hub configuration. ``connectors`` hold the validated per-kind models."""

    model_config = ConfigDict(extra="forbid")
    hub: HubSection = Field(default_factory=HubSection)
    connectors: dict[str, Any] = Field(default_factory=dict)
    routes: list[Route] = Field(default_factory=list)
    actions: dict[str, TrainingAction] = Field(default_factory=dict, description="Training actions by id")
    exports: dict[str, Any] = Field(default_factory=dict, description="Funder exports by name; keys depend on their kind")

    @model_validator(mode="after")
    def _action_calendars(self) -> "HubConfig":
        for action in self.actions.values():
            action.use_hub_calendar(self.hub.calendar)
        return self

    @model_validator(mode="after")
    def _route_consents(self) -> "HubConfig":
        known = self.hub.consents.purposes
        for route in self.routes:
            unknown = [p for p in route.when.consent or [] if p not in known]
            if unknown:
                raise ValueError(f"route {route.name!r}: when.consent names unknown purposes {unknown} "
                                 f"(hub.consents.purposes: {', '.join(sorted(known)) or 'none'})")
        return self

    @field_validator("exports")
    @classmethod
    def _export_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not re.match(r"^[a-z0-9][a-z0-9_-]*$", str(name)):
                raise ValueError(f"export name {name!r}: use lowercase letters, digits, '-' and '_'")
        return value

    @field_validator("connectors")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not re.match(r"^[a-z0-9][a-z0-9_-]*$", str(name)):
                raise ValueError(f"connector name {name!r}: use lowercase letters, digits, '-' and '_'")
            if name in ("api", "hub"):
                raise ValueError(f"connector name {name!r} is reserved ('api': events posted to /api/events, 'hub': the hub's own events)")
        return value



@dataclass
class LoadedConfig:
    """A validated configuration and where it came from."""

    path: Path
    model: HubConfig
    connector_classes: dict[str, type[Connector]]
    lines: dict[tuple, int] = field(default_factory=dict)
    format_classes: dict[str, type] = field(default_factory=dict)

    @property
    def exports(self) -> dict[str, Any]:
        return self.model.exports

    @property
    def hub(self) -> HubSection:
        return self.model.hub

    @property
    def base_dir(self) -> Path:
        """Relative paths in the config are relative to the folder the command runs from."""
        return Path.cwd()

    def resolve_path(self, value: str) -> Path:
        path = Path(value)
        return path if path.is_absolute() else self.base_dir / path

    @property
    def data_dir(self) -> Path:
        return self.resolve_path(self.hub.data_dir)

    @property
    def blobs_dir(self) -> Path:
        return self.resolve_path(self.hub.blobs_dir) if self.hub.blobs_dir else self.data_dir / "blobs"

    @property
    def timezone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.hub.timezone)

    @property
    def connectors(self) -> dict[str, ConnectorConfig]:
        return self.model.connectors

    def connector_class(self, name: str) -> type[Connector]:
        return self.connector_classes[self.connectors[name].kind]

    def enabled_connectors(self) -> dict[str, ConnectorConfig]:
        return {n: c for n, c in self.connectors.items() if c.enabled}

    def sinks(self) -> list[str]:
        return [n for n in self.enabled_connectors() if issubclass(self.connector_class(n), EventSink)]

    def pull_sources(self) -> list[str]:
        return [n for n in self.enabled_connectors() if issubclass(self.connector_class(n), PullSource)]

    def rules_for(self, action: str) -> RealisationRules:
        found = self.model.actions.get(action)
        return found.rules if found is not None and found.rules is not None else self.hub.realisation

    def delivery_for(self, sink: str) -> DeliveryConfig:
        base = self.hub.delivery
        overrides = self.connectors[sink].delivery
        if overrides is None:
            return base
        return base.model_copy(update=overrides.model_dump(exclude_none=True))


# --------------------------------------------------------------------------- YAML with lines


class _Reader:
    """Turns a YAML node tree into Python values, recording the line of every path."""

    def __init__(self, filename: str, env: Mapping[str, str], base_dir: Path):
        self.filename = filename
        self.env = env
        self.base_dir = base_dir
        self.lines: dict[tuple, int] = {}
        self.interpolated: set[tuple] = set()
        self.failed: set[tuple] = set()  # paths whose ${…} could not be resolved
        self.problems: list[str] = []
        self._constructor = yaml.SafeLoader("")

    def read(self, node: yaml.Node, path: tuple = ()) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            self._constructor.flatten_mapping(node)
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self._constructor.construct_object(key_node, deep=True)
                if key in out:
                    self.problems.append(
                        f"{self.filename}:{key_node.start_mark.line + 1}: {format_path(path + (key,))}: duplicate key"
                    )
                self.lines[path + (key,)] = key_node.start_mark.line + 1
                out[key] = self.read(value_node, path + (key,))
                self.lines[path + (key,)] = key_node.start_mark.line + 1
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.read(item, path + (i,)) for i, item in enumerate(node.value)]
        value = self._constructor.construct_object(node, deep=True)
        if isinstance(value, str) and "${" in value:
            value = self._interpolate(value, path, node.start_mark.line + 1)
        return value

    def _interpolate(self, text: str, path: tuple, line: int) -> str:
        def replace(match: re.Match) -> str:
            source, ref, default = match.group(1), match.group(2).strip(), match.group(3)
            if source == "env":
                if ref in self.env:
                    return self.env[ref]
                if default is not None:
                    return default
                self.failed.add(path)
                self.problems.append(
                    f"{self.filename}:{line}: {format_path(path)}: environment variable {ref} is not set"
                )
                return ""
            file_path = Path(ref).expanduser()
            if not file_path.is_absolute():
                file_path = self.base_dir / file_path
            try:
                return file_path.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                self.failed.add(path)
                self.problems.append(
                    f"{self.filename}:{line}: {format_path(path)}: cannot read secret file {ref}: {exc.strerror}"
                )
                return ""

        self.interpolated.add(path)
        return _REF.sub(replace, text)


def format_path(path: tuple) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _line_for(lines: dict[tuple, int], path: tuple) -> int:
    path = tuple(path)
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path, 1)


def _errors(exc: ValidationError, prefix: tuple, lines: dict[tuple, int], filename: str,
            skip: set[tuple] = frozenset(), model: type[BaseModel] | None = None) -> list[str]:
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = prefix + tuple(_yaml_key(p) for p in err["loc"])
        if loc in skip:  # already reported: its ${…} reference could not be resolved
            continue
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key" + _did_you_mean(str(err["loc"][-1]), _keys_at(model, err["loc"][:-1]))
        out.append(f"{filename}:{_line_for(lines, loc)}: {format_path(loc)}: {msg}")
    return out


def _did_you_mean(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _keys_at(model: Any, loc: tuple) -> list[str]:
    """The keys the model accepts at ``loc`` (a pydantic error location), for "did you mean"."""
    current = model
    for part in loc:
        current = _plain(current)
        if typing.get_origin(current) in (list, dict):  # a list index or a mapping key: step into the item
            current = typing.get_args(current)[-1]
        elif isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(part) or next(
                (f for f in current.model_fields.values() if f.alias == part), None)
            if info is None:
                return []
            current = info.annotation
        else:
            return []
    current = _plain(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [info.alias or name for name, info in current.model_fields.items()]
    return []


def _plain(tp: Any) -> Any:
    """``tp`` without Annotated[…] and Optional[…]."""
    while True:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        origin = typing.get_origin(tp)
        if origin is typing.Annotated or (origin in (typing.Union, types.UnionType) and len(args) == 1):
            tp = args[0]
        else:
            return tp


def _yaml_key(part: Any) -> Any:
    return "from" if part == "from_" else part


def _secret_paths(model: type[BaseModel], prefix: tuple = ()) -> list[tuple]:
    """Paths of the SecretStr fields of a config model (one level of nesting is enough here)."""
    out = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        ann = info.annotation
        args = getattr(ann, "__args__", None) or ()
        if ann is SecretStr or SecretStr in args or any(SecretStr in (getattr(a, "__args__", None) or ()) for a in args):
            out.append(prefix + (key,))
        else:
            for candidate in (ann, *args):  # a nested block, optional or not
                if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                    out.extend(_secret_paths(candidate, prefix + (key,)))
    return out


def read_yaml(text: str, filename: str, env: Mapping[str, str] | None = None,
              base_dir: Path | None = None) -> tuple[dict[str, Any], "_Reader"]:
    """Parse YAML text into a mapping, resolving ${env:…}/${file:…}, recording the line of every path."""
    env = os.environ if env is None else env
    base_dir = base_dir or Path.cwd()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{filename}:{line}: invalid YAML: {problem}") from None
    reader = _Reader(filename, env, base_dir)
    raw = reader.read(node) if node is not None else {}
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{filename}:1: (top level): expected a mapping")
    return raw, reader


def load_yaml_model(path: str | os.PathLike, model: type[BaseModel], env: Mapping[str, str] | None = None) -> BaseModel:
    """Read a YAML file (a funder profile, a template…) into ``model``; errors say file:line: path."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    raw, reader = read_yaml(text, str(path), env)
    if reader.problems:
        raise ConfigError(reader.problems)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_errors(exc, (), reader.lines, str(path), reader.failed, model)) from None


def parse_config(
    text: str,
    connector_classes: Mapping[str, type[Connector]],
    *,
    filename: str = DEFAULT_CONFIG,
    env: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
    format_classes: Mapping[str, type] | None = None,
) -> LoadedConfig:
    """Validate configuration text. Raises :class:`ConfigError` with every problem found."""
    raw, reader = read_yaml(text, filename, env, base_dir)
    problems = list(reader.problems)
    lines = reader.lines

    try:
        model = HubConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(problems + _errors(exc, (), lines, filename, reader.failed, HubConfig)) from None

    validated: dict[str, ConnectorConfig] = {}
    known = ", ".join(sorted(connector_classes)) or "(none installed)"
    for name, block in model.connectors.items():
        path = ("connectors", name)
        where = f"{filename}:{_line_for(lines, path)}: connectors.{name}"
        if not isinstance(block, dict):
            problems.append(f"{where}: expected a mapping with a 'kind'")
            continue
        kind = block.get("kind")
        if kind is None:
            problems.append(f"{where}.kind: field required (known kinds: {known})")
            continue
        cls = connector_classes.get(kind)
        if cls is None:
            problems.append(
                f"{filename}:{_line_for(lines, path + ('kind',))}: connectors.{name}.kind: "
                f"unknown connector kind {kind!r} (known kinds: {known})"
            )
            continue
        try:
            cfg = cls.Config.model_validate(block)
        except ValidationError as exc:
            problems.extend(_errors(exc, path, lines, filename, reader.failed, cls.Config))
            continue
        problems.extend(_literal_secrets(cls.Config, block, path, reader, lines, filename))
        if cfg.schedule is not None and not issubclass(cls, PullSource):
            problems.append(
                f"{filename}:{_line_for(lines, path + ('schedule',))}: connectors.{name}.schedule: "
                f"kind {kind!r} is not a pull source"
            )
        validated[name] = cfg

    token = model.hub.http.admin_token
    if token is not None and ("hub", "http", "admin_token") not in reader.interpolated:
        problems.append(
            f"{filename}:{_line_for(lines, ('hub', 'http', 'admin_token'))}: hub.http.admin_token: "
            "secrets must come from ${env:VAR} or ${file:PATH}, not be written in the file"
        )
    elif token is not None and len(token.get_secret_value()) < 16 and ("hub", "http", "admin_token") not in reader.failed:
        problems.append(
            f"{filename}:{_line_for(lines, ('hub', 'http', 'admin_token'))}: hub.http.admin_token: "
            "too short (use at least 16 random characters)"
        )

    secret = model.hub.web.session_secret
    where = f"{filename}:{_line_for(lines, ('hub', 'web', 'session_secret'))}: hub.web.session_secret: "
    if secret is not None and ("hub", "web", "session_secret") not in reader.interpolated:
        problems.append(where + "secrets must come from ${env:VAR} or ${file:PATH}, not be written in the file")
    elif secret is not None and len(secret.get_secret_value()) < 32 and ("hub", "web", "session_secret") not in reader.failed:
        problems.append(where + "too short (use at least 32 random characters)")

    for index, account in enumerate(model.hub.web.accounts):
        for secret_field in ("password_hash", "totp_secret"):
            full = ("hub", "web", "accounts", index, secret_field)
            if getattr(account, secret_field) is not None and full not in reader.interpolated:
                problems.append(f"{filename}:{_line_for(lines, full)}: {format_path(full)}: secrets must come from "
                                "${env:VAR} or ${file:PATH}, not be written in the file")

    web_block = _dig(raw, ("hub", "web")) or {}
    for name, block_model in (("email_link", EmailLinkConfig), ("oidc", OidcConfig)):
        if isinstance(web_block.get(name), dict):
            problems.extend(_literal_secrets(block_model, web_block[name], ("hub", "web", name), reader, lines, filename))

    exports = _validate_exports(model, format_classes or {}, lines, filename, reader, problems)
    problems.extend(_check_routes(model, validated, connector_classes, lines, filename))
    if problems:
        raise ConfigError(problems)
    model = model.model_copy(update={"connectors": validated, "exports": exports})
    return LoadedConfig(Path(filename), model, dict(connector_classes), lines, dict(format_classes or {}))


def _validate_exports(model, classes, lines, filename, reader, problems) -> dict[str, Any]:
    out = {}
    known = ", ".join(sorted(classes)) or "(none installed)"
    for name, block in model.exports.items():
        path = ("exports", name)
        if not isinstance(block, dict) or "kind" not in block:
            problems.append(f"{filename}:{_line_for(lines, path)}: exports.{name}.kind: field required (known kinds: {known})")
            continue
        cls = classes.get(block["kind"])
        if cls is None:
            problems.append(f"{filename}:{_line_for(lines, path + ('kind',))}: exports.{name}.kind: "
                            f"unknown funder format {block['kind']!r} (known kinds: {known})")
            continue
        try:
            out[name] = cls.Config.model_validate(block)
        except ValidationError as exc:
            problems.extend(_errors(exc, path, lines, filename, reader.failed, cls.Config))
            continue
        problems.extend(_literal_secrets(cls.Config, block, path, reader, lines, filename))
    return out


def _literal_secrets(model, block, path, reader, lines, filename) -> list[str]:
    """Secrets written in the file rather than referenced with ${env:…}/${file:…}."""
    out = []
    for secret in _secret_paths(model):
        full = path + secret
        value = _dig(block, secret)
        items = ([full + (i,) for i in range(len(value))] if isinstance(value, list)
                 else [full + (key,) for key in value] if isinstance(value, dict) else [full])
        if value is not None and not all(p in reader.interpolated for p in items):
            out.append(f"{filename}:{_line_for(lines, full)}: {format_path(full)}: secrets must come from "
                       "${env:VAR} or ${file:PATH}, not be written in the file")
    return out


def _dig(block: dict, path: tuple) -> Any:
    for part in path:
        if not isinstance(block, dict) or part not in block:
            return None
        block = block[part]
    return block


def _check_routes(model, validated, classes, lines, filename) -> list[str]:
    problems = []
    first: dict[str, int] = {}
    for i, route in enumerate(model.routes):
        if route.name in first:
            problems.append(
                f"{filename}:{_line_for(lines, ('routes', i, 'name'))}: routes[{i}].name: another route is named "
                f"{route.name!r} (routes[{first[route.name]}], line {_line_for(lines, ('routes', first[route.name], 'name'))})"
            )
        first.setdefault(route.name, i)
        for j, name in enumerate(route.from_):
            if name in ("*", "api", "hub") or any(ch in name for ch in "*?["):
                continue
            if name not in model.connectors:
                problems.append(
                    f"{filename}:{_line_for(lines, ('routes', i, 'from', j))}: routes[{i}].from: "
                    f"route {route.name!r} names connector {name!r}, which is not defined"
                )
        for j, name in enumerate(route.to):
            where = f"{filename}:{_line_for(lines, ('routes', i, 'to', j))}: routes[{i}].to"
            if name not in model.connectors:
                problems.append(f"{where}: route {route.name!r} names connector {name!r}, which is not defined")
            elif name in validated and not issubclass(classes[validated[name].kind], EventSink):
                problems.append(f"{where}: connector {name!r} (kind {validated[name].kind}) is not an event sink")
    return problems


def route_warnings(loaded: LoadedConfig, event_types: typing.Iterable[str]) -> list[str]:
    """Event-type globs of routes that match no known event type (a typo, or a plugin not installed):
    valid, but such a route never carries anything. ``file:line: path: message`` strings."""
    known = sorted(set(event_types))
    out = []
    for i, route in enumerate(loaded.model.routes):
        for j, pattern in enumerate(route.when.types):
            if any(t == pattern or fnmatch.fnmatchcase(t, pattern) for t in known):
                continue
            out.append(f"{loaded.path}:{_line_for(loaded.lines, ('routes', i, 'when', 'types', j))}: "
                       f"routes[{i}].when.types: route {route.name!r}: {pattern!r} matches no known event type"
                       + _did_you_mean(pattern, known) + " (`parcours check --json` lists them)")
    return out


def schedule_warnings(loaded: LoadedConfig) -> list[str]:
    """Explicit half-days on a public holiday of their action's calendar, not confirmed: valid (the
    schedule keeps them), but their signatures credit no hours. ``file:line: path: message`` strings."""
    out = []
    for action_id, action in loaded.model.actions.items():
        for i, hd in enumerate(action.half_days):
            name = None if hd.holiday_confirmed else action.holiday(hd.date)
            if name is not None:
                out.append(f"{loaded.path}:{_line_for(loaded.lines, ('actions', action_id, 'half_days', i))}: "
                           f"actions.{action_id}.half_days[{i}]: {hd.date} is a public holiday ({name}) in the "
                           f"action's calendar ({action.effective_calendar}): its signatures credit no hours until "
                           "it is confirmed (holiday_confirmed: true)")
    return out


def load_config(path: str | os.PathLike | None, connector_classes: Mapping[str, type[Connector]],
                env: Mapping[str, str] | None = None, format_classes: Mapping[str, type] | None = None) -> LoadedConfig:
    """Read and validate the configuration file at ``path``."""
    path = Path(path or os.environ.get("PARCOURS_CONFIG") or DEFAULT_CONFIG)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found (create one with `parcours init`)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_config(text, connector_classes, filename=str(path), env=env, format_classes=format_classes)


def _human_duration_defaults(node: Any) -> None:
    if isinstance(node, dict):
        variants = node.get("anyOf") or []
        if any(isinstance(v, dict) and v.get("pattern") == SCHEMA_PATTERN for v in variants) and isinstance(node.get("default"), str):
            node["default"] = iso_to_human(node["default"])
        for value in node.values():
            _human_duration_defaults(value)
    elif isinstance(node, list):
        for value in node:
            _human_duration_defaults(value)


def json_schema(connector_classes: Mapping[str, type[Connector]],
                format_classes: Mapping[str, type] | None = None) -> dict[str, Any]:
    """JSON Schema of the configuration file, connectors included (for editors and docs)."""
    schema = HubConfig.model_json_schema(mode="validation")
    defs = schema.setdefault("$defs", {})
    variants = []
    for kind, cls in sorted(connector_classes.items()):
        sub = cls.Config.model_json_schema(mode="validation", ref_template="#/$defs/{model}")
        for name, definition in sub.pop("$defs", {}).items():
            defs.setdefault(name, definition)
        sub["properties"]["kind"] = {"const": kind, "description": (cls.__doc__ or "").strip().split("\n")[0]}
        sub["required"] = sorted(set(sub.get("required", [])) | {"kind"})
        title = f"connector_{kind}"
        sub["title"] = title
        defs[title] = sub
        variants.append({"$ref": f"#/$defs/{title}"})
    format_variants = []
    for kind, cls in sorted((format_classes or {}).items()):
        sub = cls.Config.model_json_schema(mode="validation", ref_template="#/$defs/{model}")
        for name, definition in sub.pop("$defs", {}).items():
            defs.setdefault(name, definition)
        sub["properties"]["kind"] = {"const": kind, "description": (cls.__doc__ or "").strip().split("\n")[0]}
        sub["required"] = sorted(set(sub.get("required", [])) | {"kind"})
        sub["title"] = f"export_{kind}"
        defs[sub["title"]] = sub
        format_variants.append({"$ref": f"#/$defs/export_{kind}"})
    schema["properties"]["exports"] = {
        "type": "object",
        "description": "Funder exports by name; the keys of each depend on its kind",
        "additionalProperties": {"oneOf": format_variants} if format_variants else {"type": "object"},
    }
    schema["properties"]["connectors"] = {
        "type": "object",
        "description": "Connector instances by name; the keys of each depend on its kind",
        "additionalProperties": {"oneOf": variants} if variants else {"type": "object"},
    }
    _human_duration_defaults(schema)
    schema["title"] = "Parcours Hub configuration"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
