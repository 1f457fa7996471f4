-- TradeMail's first schema (SQLite). No column holds a plaintext message or address:
-- *_ct columns are AES-256-GCM ciphertexts, *_index columns keyed HMACs.

CREATE TABLE system_keys (
    name        TEXT PRIMARY KEY,
    wrapped     BLOB NOT NULL
);

CREATE TABLE members (
    id              TEXT PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    email_ct        BLOB NOT NULL,
    email_index     BLOB NOT NULL UNIQUE,
    company         TEXT NOT NULL,
    country         TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    member_key      BLOB NOT NULL,
    notify          TEXT NOT NULL DEFAULT 'summary',
    created_at      REAL NOT NULL
);

CREATE TABLE aliases (
    address     TEXT PRIMARY KEY,
    member_id   TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    enabled     INTEGER NOT NULL DEFAULT 1,
    created_at  REAL NOT NULL
);
CREATE INDEX aliases_member ON aliases (member_id);

CREATE TABLE signin_failures (
    subject         TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL,
    last_failure_at REAL NOT NULL
);

CREATE TABLE api_tokens (
    member_id   TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    digest      BLOB NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    created_at  REAL NOT NULL,
    expires_at  REAL,
    last_used_at REAL,
    PRIMARY KEY (member_id, id)
);

CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    thread_id       TEXT NOT NULL,
    in_reply_to     TEXT,
    sender_id       TEXT NOT NULL,
    recipient_ids   TEXT NOT NULL,
    created_at      REAL NOT NULL,
    subject_ct      BLOB NOT NULL,
    body_ct         BLOB NOT NULL,
    snippet_ct      BLOB NOT NULL,
    attachment_count INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE attachments (
    message_id  TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    n           INTEGER NOT NULL,
    size        INTEGER NOT NULL,
    meta_ct     BLOB NOT NULL,
    data_ct     BLOB NOT NULL,
    PRIMARY KEY (message_id, n)
);

CREATE TABLE mailbox (
    member_id   TEXT NOT NULL,
    message_id  TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    thread_id   TEXT NOT NULL,
    folder      TEXT NOT NULL,
    unread      INTEGER NOT NULL,
    content_key BLOB NOT NULL,
    PRIMARY KEY (member_id, message_id)
);
CREATE INDEX mailbox_folder ON mailbox (member_id, folder, message_id);
CREATE INDEX mailbox_unread ON mailbox (member_id, folder, message_id) WHERE unread;
CREATE INDEX mailbox_thread ON mailbox (member_id, thread_id, message_id);
CREATE INDEX mailbox_message ON mailbox (message_id);

CREATE TABLE word_index (
    member_id   TEXT NOT NULL,
    token       BLOB NOT NULL,
    message_id  TEXT NOT NULL,
    PRIMARY KEY (member_id, token, message_id)
) WITHOUT ROWID;
CREATE INDEX word_index_message ON word_index (member_id, message_id);

CREATE TABLE idempotency_keys (
    member_id   TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint BLOB NOT NULL,
    message_id  TEXT NOT NULL,
    thread_id   TEXT NOT NULL,
    created_at  REAL NOT NULL,
    PRIMARY KEY (member_id, key)
);
