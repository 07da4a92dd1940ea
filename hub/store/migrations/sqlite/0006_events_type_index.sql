CREATE INDEX events_type ON events(type, seq);
