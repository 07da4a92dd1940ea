"""Who is signed in to the web app; the roles and scopes themselves are in :mod:`hub.access`."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from hub.access import ROLES, SCOPE_OF_ROLE, SECOND_FACTOR_REQUIRED, Scopes, ScopeError, check_scopes

__all__ = ["ROLES", "SCOPE_OF_ROLE", "SECOND_FACTOR_REQUIRED", "Principal", "ScopeError", "Scopes", "check_scopes"]


@dataclass(frozen=True)
class Principal:
    """Who is signed in: the account and its session."""

    account_id: str
    email: str
    name: str | None
    role: str
    scopes: Scopes
    session_id: str
    csrf: str
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def sees_action(self, action: str) -> bool:
        if self.role == "admin":
            return True
        return any(fnmatch.fnmatchcase(action, pattern) for pattern in self.scopes.actions)

    def actions_in(self, configured: list[str]) -> list[str]:
        """The configured training actions this principal may see, in order."""
        return [a for a in configured if self.sees_action(a)]
