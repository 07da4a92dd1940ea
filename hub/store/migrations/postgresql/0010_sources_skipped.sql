ALTER TABLE sources ADD COLUMN skipped TEXT;  -- JSON: records that gave no event, by reason, and the unmapped values seen
