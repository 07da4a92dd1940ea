-- Dead letters reached by retention (hub.privacy): a reject whose personal values an erasure
-- removed says when and under which privacy.erased record of the ledger (a replay of it is
-- refused), and rejects past hub.retention.dead_letter_months are deleted by their age.
ALTER TABLE rejects ADD COLUMN erased_at REAL;
ALTER TABLE rejects ADD COLUMN erased_by TEXT;
CREATE INDEX rejects_created ON rejects(created_at);
