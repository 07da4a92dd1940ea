"""Configuration of the ``moodle`` connector: web services (url + token) and/or the log store."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from typing import ClassVar, Literal, Mapping
from urllib.parse import urlsplit

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from hub.connector import ConnectorConfig
from hub.durations import Duration
from hub.http import HttpSettings

DSN_SCHEMES = {"postgresql": "postgresql", "postgres": "postgresql", "mysql": "mysql", "mariadb": "mysql",
               "mysql+pymysql": "mysql"}
#: per dialect: the driver module, the extra of parcours-hub that installs it (pyproject.toml), the database
DRIVERS = {"postgresql": ("psycopg", "postgres", "PostgreSQL"), "mysql": ("pymysql", "mariadb", "MariaDB/MySQL")}


def missing_driver(dialect: str) -> str | None:
    """Why the log store cannot be read on ``dialect`` here (its driver is not installed), or None.

    Looks the module up without importing it, so that checking a configuration stays quick."""
    module, extra, database = DRIVERS[dialect]
    if module in sys.modules:
        present = sys.modules[module] is not None
    else:
        try:
            present = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            present = False
    if present:
        return None
    return (f"reading the log store on {database} needs the {module} driver, which is not installed: "
            f"pip install 'parcours-hub[{extra}]'")


class LogstoreConfig(BaseModel):
    """Read-only SQL access to Moodle's own database, for ``logstore_standard_log``."""

    model_config = ConfigDict(extra="forbid")
    dsn: SecretStr | None = Field(
        default=None,
        description="Connection URL of Moodle's database, read-only user: postgresql://user:pw@host:5432/moodle "
        "or mysql://user:pw@host:3306/moodle (mariadb:// is accepted). ${env:…} or ${file:…}. "
        "Without it the log store is not read.",
    )
    table_prefix: str = Field(default="mdl_", pattern=r"^[A-Za-z0-9_]{0,20}$",
                              description="Moodle's $CFG->prefix")
    inactivity_gap: Duration = Field(
        default=dt.timedelta(minutes=30),
        description="A connection session ends after this long without any logged event of the learner",
    )
    page_size: int = Field(default=5000, ge=1, le=100_000,
                           description="Log rows read per page (one page = one committed transaction)")
    origins: list[str] = Field(
        default_factory=lambda: ["web", "ws"],
        description="Log origins that count as the learner being connected (web = browser, ws = mobile app); "
        "cli and restore rows never do",
    )
    ignore_users: list[int] = Field(
        default_factory=list,
        description="Moodle user ids whose log rows are ignored (the web-service user of the hub, admins)",
    )
    count_login_as: bool = Field(
        default=False,
        description="Count rows logged while someone used 'Log in as' the learner as the learner's own "
        "connection (off: a manager's visit is not the learner's presence)",
    )
    emit_views: bool = Field(default=True, description="Emit moodle.activity_viewed for course-module views")
    virtual_class_max: Duration = Field(
        default=dt.timedelta(hours=4),
        description="A BigBlueButton join without a 'left' event is closed after this long, with an unknown "
        "leaving time and a duration of 0",
    )
    start_after_id: int = Field(
        default=0, ge=0,
        description="First run only: ignore log rows up to this id (skip history older than the contract)",
    )
    user_details: bool = Field(
        default=True,
        description="Read e-mail, name and idnumber of learners from the user table (needs SELECT on it)",
    )
    timeout: Duration = Field(default=dt.timedelta(seconds=60), description="Time limit of one SQL query")
    tail_guard: Duration = Field(
        default=dt.timedelta(seconds=10),
        description="At the end of the log, rows newer than this are left for the next pull: concurrent "
        "requests may commit log rows out of id order, and a row committed late must not be skipped",
    )

    @field_validator("dsn")
    @classmethod
    def _known_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        scheme = urlsplit(value.get_secret_value()).scheme.lower()
        if scheme not in DSN_SCHEMES:
            raise ValueError(
                f"unsupported database URL scheme {scheme!r}: use postgresql://, mysql:// or mariadb://")
        problem = missing_driver(DSN_SCHEMES[scheme])
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return [v.strip().lower() for v in value if v.strip()]

    @property
    def dialect(self) -> str | None:
        if self.dsn is None:
            return None
        return DSN_SCHEMES[urlsplit(self.dsn.get_secret_value()).scheme.lower()]


class MoodleConfig(ConnectorConfig, HttpSettings.with_defaults(retry_backoff=dt.timedelta(milliseconds=500),
                                                               retry_max_wait=dt.timedelta(seconds=60))):
    """Moodle: web services (REST, token) and/or read-only SQL on the log store."""

    #: the former names of ``retries`` and ``retry_max_wait``
    former_http_keys: ClassVar[Mapping[str, str]] = {"max_retries": "retries", "max_retry_wait": "retry_max_wait"}

    url: AnyHttpUrl | None = Field(default=None, description="Root URL of the Moodle site (web services)")
    token: SecretStr | None = Field(
        default=None,
        description="Web-service token of the hub's external service (${env:…} or ${file:…}); "
        "without it only the log store is read",
    )
    courses: list[int | str] = Field(
        default_factory=list,
        description="Courses to follow, by id (number) or shortname (text); empty: every visible course",
    )
    action_from: Literal["shortname", "idnumber", "id"] = Field(
        default="shortname",
        description="Which course field is the training action id of the events "
        "(idnumber falls back to shortname when empty)",
    )
    learner_roles: list[str] = Field(
        default_factory=lambda: ["student"],
        description="Course role shortnames whose holders are learners (web services)",
    )
    recheck: Duration = Field(
        default=dt.timedelta(minutes=10),
        description="Overlap re-read on each pull: learners whose course access is this close to the last one "
        "seen are polled again, and facts this close are compared with those already sent",
    )
    learner_poll_interval: Duration = Field(
        default=dt.timedelta(days=1),
        description="Longest time between two polls of one enrolled learner's completions and attempts, even of a "
        "learner who did not come back or never opened the course (a teacher's override); the polls are spread "
        "evenly over the interval",
    )
    user_id_namespace: str = Field(
        default="moodle_user", pattern=r"^[a-z][a-z0-9_]{0,49}$",
        description="The namespace of the Moodle user id among the learner's identifiers (`ids.<namespace>`); "
        "give each Moodle site its own (e.g. moodle_user_campus2) when several are configured, since user ids are "
        "unique within one site only",
    )
    concurrency: int = Field(default=4, ge=1, le=32, description="Web-service calls in flight at once")
    attendance_modality: Literal["presentiel", "distanciel_synchrone", "foad_asynchrone"] = Field(
        default="presentiel", description="Modality of the sessions of the attendance plugin (mod_attendance)",
    )
    attendance_excused: list[str] = Field(
        default_factory=lambda: ["E"],
        description="mod_attendance status acronyms that mean an excused (justified) absence",
    )
    logstore: LogstoreConfig = Field(default_factory=LogstoreConfig,
                                     description="The log store (read-only SQL on Moodle's database)")

    @field_validator("learner_poll_interval")
    @classmethod
    def _interval(cls, value: dt.timedelta) -> dt.timedelta:
        if value < dt.timedelta(minutes=1):
            raise ValueError("learner_poll_interval must be at least 1m")
        return value

    @model_validator(mode="after")
    def _one_mode(self) -> "MoodleConfig":
        if self.token is not None and self.url is None:
            raise ValueError("'token' needs 'url' (the root URL of the Moodle site)")
        if self.token is None and self.logstore.dsn is None:
            raise ValueError("give 'url' and 'token' (web services), 'logstore.dsn' (log store), or both")
        return self

    @property
    def ws_enabled(self) -> bool:
        return self.token is not None and self.url is not None

    @property
    def logstore_enabled(self) -> bool:
        return self.logstore.dsn is not None

    @property
    def base_url(self) -> str:
        return str(self.url).rstrip("/") if self.url is not None else ""
