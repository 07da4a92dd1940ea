"""The auditors' links in the SQL stores (see AuditLinkStore): kept under the SHA-256 of their token."""

from __future__ import annotations

import json
from typing import Any

from hub.store.dialect import SqlDialect


def _link(row: Any) -> dict[str, Any]:
    link = dict(row)
    link["learners"] = json.loads(link["learners"])
    link["selection"] = json.loads(link["selection"])
    return link


class SqlAuditLinks(SqlDialect):
    def add_audit_link(self, link: dict[str, Any]) -> None:
        with self._write():
            self._execute(
                "INSERT INTO audit_links (id, token_hash, action, learners, selection, label, created_by, created_at, "
                "expires_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (link["id"], link["token_hash"], link["action"], json.dumps(link["learners"]),
                 json.dumps(link["selection"]), link.get("label"), link["created_by"], link["created_at"],
                 link["expires_at"]))

    def audit_link(self, link_id: str) -> dict[str, Any] | None:
        row = self._execute("SELECT * FROM audit_links WHERE id = ?", (link_id,)).fetchone()
        return _link(row) if row else None

    def audit_link_by_token_hash(self, token_hash: str) -> dict[str, Any] | None:
        row = self._execute("SELECT * FROM audit_links WHERE token_hash = ?", (token_hash,)).fetchone()
        return _link(row) if row else None

    def audit_links(self) -> list[dict[str, Any]]:
        return [_link(r) for r in self._execute("SELECT * FROM audit_links ORDER BY created_at, id")]

    def revoke_audit_link(self, link_id: str, *, at: float) -> bool:
        with self._write():
            cur = self._execute("UPDATE audit_links SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                                (at, link_id))
        return cur.rowcount == 1
