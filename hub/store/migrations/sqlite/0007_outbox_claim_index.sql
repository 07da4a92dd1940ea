CREATE INDEX outbox_claim ON outbox(sink, state, id);
