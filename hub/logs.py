"""structlog set-up: JSON lines off a terminal, readable lines on one; secrets never printed.

Every secret value loaded from configuration is registered with :func:`register_secret`;
the redaction processor replaces it wherever it appears in a log line, and masks values of
keys that name credentials (token, secret, password, authorization, signature).
"""

from __future__ import annotations

import logging
import re
import sys
import warnings
from typing import Any

import structlog

from hub.redaction import redact_text

REDACTED = "**********"
_SENSITIVE_KEY = re.compile(r"(token|secret|password|passwd|authorization|signature|api_key|apikey)", re.I)
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    if value and len(value) >= 4:
        _secrets.add(value)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        for secret in _secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return redact_text(value)
    if isinstance(value, dict):
        return {k: (REDACTED if _SENSITIVE_KEY.search(str(k)) and v else _scrub(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub(v) for v in value)
    return value


def redact(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: mask registered secrets and credential-named keys."""
    return _scrub(event_dict)


def configure(level: str = "info", fmt: str = "auto", stream: Any = None) -> None:
    stream = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not getattr(stream, "isatty", lambda: False)())
    on_tty = getattr(stream, "isatty", lambda: False)()
    renderer: Any = (structlog.processors.JSONRenderer() if use_json
                     else structlog.dev.ConsoleRenderer(colors=on_tty))  # colours on a terminal only
    # Libraries that log through the standard library (aiohttp, APScheduler) get the same format and redaction.
    handler = logging.StreamHandler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True)],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, structlog.processors.format_exc_info,
                    redact, renderer],
    ))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(max(getattr(logging, level.upper()), logging.INFO))
    handler.addFilter(_SchedulerRunsAtDebug(level == "debug"))
    quiet_library_warnings()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )


class _SchedulerRunsAtDebug(logging.Filter):
    """APScheduler says "Running job …" and "… executed successfully" at INFO on every run of every
    job (the journeys job runs every 15 s): for the hub's reader those are debug lines."""

    def __init__(self, keep_debug: bool):
        super().__init__()
        self.keep_debug = keep_debug

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("apscheduler"):
            return True
        if record.levelno == logging.INFO:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return record.levelno > logging.DEBUG or self.keep_debug


def quiet_library_warnings() -> None:
    """Library warnings addressed to developers, not to the hub's users: pyHanko's deprecations (its
    certificate validator warns when relying on the system's trust list) and cryptography's DSA
    deprecation, raised when pyHanko imports it. Our own warnings still show."""
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pyhanko")
    warnings.filterwarnings("ignore", message=r"DSA is deprecated", module=r"pyhanko")


def get_logger(name: str = "parcours", **bind: Any) -> Any:
    return structlog.get_logger(name).bind(**bind)
