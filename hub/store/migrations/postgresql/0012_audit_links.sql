-- The auditors' links (hub.audit.links): a token kept as its SHA-256 only, the scope drawn once
-- at creation (an action and the learner ids of its sample), the expiry and the revocation.
CREATE TABLE audit_links (
    id text PRIMARY KEY,
    token_hash text NOT NULL UNIQUE,
    action text NOT NULL,
    learners text NOT NULL,
    selection text NOT NULL,
    label text,
    created_by text NOT NULL,
    created_at double precision NOT NULL,
    expires_at double precision NOT NULL,
    revoked_at double precision
);
