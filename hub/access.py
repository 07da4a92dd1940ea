"""Roles and scopes of the web app's accounts: what the configuration (declared accounts) and the
web app (hub.web) both check.

A role says which pages an account may open; its scopes say on which data: the training actions
of a trainer, manager or auditor, the funders of a funder, the hub learner id of a learner. An
admin sees everything and has no scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

Role = Literal["admin", "manager", "trainer", "learner", "funder", "auditor"]
ROLES: tuple[str, ...] = get_args(Role)
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
        raise ScopeError(f"a {role} account needs its {needed}")
    extra = given - {needed}
    if extra:
        raise ScopeError(f"a {role} account has no {' or '.join(sorted(extra))} scope")
