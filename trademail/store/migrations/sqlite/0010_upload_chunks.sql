-- Attachments streamed in: each file sealed a chunk at a time under a key of its own, the
-- chunks kept here as they arrive (before the message exists), the key in the attachment's
-- row (data_ct holds it, sealed under the message's content key, where upload_id is set).
ALTER TABLE attachments ADD COLUMN upload_id TEXT;

CREATE TABLE upload_chunks (
    upload_id   TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    member_id   TEXT NOT NULL,  -- who uploaded it; the chunks are the message's
    data_ct     BLOB NOT NULL,
    created_at  REAL NOT NULL,
    PRIMARY KEY (upload_id, seq)
);
CREATE INDEX upload_chunks_age ON upload_chunks (created_at);
CREATE INDEX attachments_upload ON attachments (upload_id) WHERE upload_id IS NOT NULL;
