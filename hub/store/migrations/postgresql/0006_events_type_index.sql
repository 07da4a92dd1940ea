-- Nothing to do on PostgreSQL: events(type, seq) has been indexed since 0001 (events_type_seq).
-- The number is kept so that both dialects count the same migrations.
SELECT 1;
