"""One error taxonomy for every connector and every stage.

Connectors raise these; the dispatcher and the scheduler decide what to do from the class
alone: retry later, honour ``Retry-After``, pause, or dead-letter. Messages never carry
secrets or request bodies.
"""

from __future__ import annotations

import datetime as dt
import email.utils


class HubError(Exception):
    """Base of every error the hub raises on purpose."""


class ConfigError(HubError):
    """The configuration is invalid. ``problems`` lists ``file:line: path: message`` strings."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class ConnectorError(HubError):
    """Base of the errors a connector raises while pulling, verifying or delivering."""

    retryable = False

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class RetryableError(ConnectorError):
    """A transient failure (network, timeout, HTTP 5xx): try again later."""

    retryable = True


class UnreachableError(RetryableError):
    """The peer could not be reached at all (connection refused, DNS, timeout, its disk unavailable):
    it is down, not refusing this input. A delivery failing this way is retried until
    ``delivery.max_age`` but never dead-lettered for ``max_attempts``: a sink down for hours keeps
    its backlog."""


class RateLimitedError(RetryableError):
    """The peer asked us to slow down (HTTP 429); ``retry_after`` says for how long, in seconds."""


class AuthError(ConnectorError):
    """Credentials were refused or expired. Retried, but the connector reports itself unhealthy."""

    retryable = True


class PermanentError(ConnectorError):
    """The peer will never accept this input as it is (HTTP 4xx other than 408/429): dead-letter."""


class ConnectorConfigError(ConnectorError):
    """The connector's own configuration does not work with the peer (wrong URL, missing right)."""


class WebhookRejected(HubError):
    """A webhook request was refused: bad signature, old timestamp, malformed body."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now or dt.datetime.now(dt.timezone.utc)
    return max(0.0, (when - now).total_seconds())


def error_for_status(status: int, what: str, retry_after: str | None = None) -> ConnectorError | None:
    """The taxonomy class for an HTTP status answered by a peer, or None for 2xx."""
    if status < 300:
        return None
    message = f"{what}: HTTP {status}"
    if status < 400:  # a redirect answered to an API call: the URL is wrong, following it would lose the body
        return PermanentError(f"{message} (redirect: check the URL)")
    if status == 429:
        return RateLimitedError(message, retry_after=parse_retry_after(retry_after))
    if status in (401, 403):
        return AuthError(message)
    if status in (408, 425) or status >= 500:
        return RetryableError(message, retry_after=parse_retry_after(retry_after))
    return PermanentError(message)
