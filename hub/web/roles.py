"""Roles and scopes of the web app's accounts.

A role says which pages an account may open; its scopes say on which data: the training actions
of a trainer, manager or auditor, the funders of a funder, the hub learner id of a learner. An
admin sees everything and has no scope.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

ROLES = ("admin", "manager", "trainer", "learner", "funder", "auditor")
#: the scope each role needs (None: none)
SCOPE_OF_ROLE = {"admin": None, "manager": "actions", "trainer": "actions", "auditor": "actions",
                 "funder": "funders", "learner": "learner"}
#: roles that must sign in with a second factor (TOTP); a learner may add one
SECOND_FACTOR_REQUIRED = frozenset(ROLES) - {"learner"}


class ScopeError(ValueError):
    """An account's role and scopes do not fit together."""


@dataclass(frozen=True)
class Scopes:
    actions: tuple[str, ...] = ()
    funders: tuple[str, ...] = ()
    learner: str | None = None

    @classmethod
    def of(cls, data: dict[str, Any]) -> "Scopes":
        return cls(tuple(data.get("actions") or ()), tuple(data.get("funders") or ()), data.get("learner"))

    def as_dict(self) -> dict[str, Any]:
        return {"actions": list(self.actions), "funders": list(self.funders), "learner": self.learner}


def check_scopes(role: str, scopes: Scopes) -> None:
    """ScopeError when ``role`` is unknown or ``scopes`` are not the ones it needs."""
    if role not in ROLES:
        raise ScopeError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    needed = SCOPE_OF_ROLE[role]
    given = {name for name, value in (("actions", scopes.actions), ("funders", scopes.funders),
                                      ("learner", scopes.learner)) if value}
    if needed and needed not in given:
        option = {"actions": "--action", "funders": "--funder", "learner": "--learner"}[needed]
        raise ScopeError(f"a {role} account needs its {needed} ({option})")
    extra = given - {needed}
    if extra:
        raise ScopeError(f"a {role} account has no {' or '.join(sorted(extra))} scope")


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
