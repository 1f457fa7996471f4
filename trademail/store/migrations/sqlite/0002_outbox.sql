-- The transactional outbox: mail and webhook deliveries written in the same transaction
-- as what caused them, sent later by relay workers. payload_ct is sealed (it holds real
-- addresses) and is dropped once the row is delivered or given up.

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    member_id       TEXT,
    created_at      REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    claimed_until   REAL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    state           TEXT NOT NULL DEFAULT 'pending',
    last_error      TEXT,
    payload_ct      BLOB
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_member ON outbox (member_id, created_at);
