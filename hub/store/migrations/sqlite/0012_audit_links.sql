-- The auditors' links (hub.audit.links): a token kept as its SHA-256 only, the scope drawn once
-- at creation (an action and the learner ids of its sample), the expiry and the revocation.
CREATE TABLE audit_links (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    action TEXT NOT NULL,
    learners TEXT NOT NULL,
    selection TEXT NOT NULL,
    label TEXT,
    created_by TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    revoked_at REAL
);
