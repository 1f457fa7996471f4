-- TradeMail's first schema (PostgreSQL). No column holds a plaintext message or address:
-- *_ct columns are AES-256-GCM ciphertexts, *_index columns keyed HMACs.

CREATE TABLE system_keys (
    name        TEXT PRIMARY KEY,
    wrapped     BYTEA NOT NULL
);

CREATE TABLE members (
    id              TEXT COLLATE "C" PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    email_ct        BYTEA NOT NULL,
    email_index     BYTEA NOT NULL UNIQUE,
    company         TEXT NOT NULL,
    country         TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    member_key      BYTEA NOT NULL,
    notify          TEXT NOT NULL DEFAULT 'summary',
    created_at      DOUBLE PRECISION NOT NULL
);

CREATE TABLE aliases (
    address     TEXT PRIMARY KEY,
    member_id   TEXT COLLATE "C" NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX aliases_member ON aliases (member_id);

CREATE TABLE signin_failures (
    subject         TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL,
    last_failure_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE api_tokens (
    member_id   TEXT COLLATE "C" NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    id          TEXT COLLATE "C" NOT NULL,
    digest      BYTEA NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    expires_at  DOUBLE PRECISION,
    last_used_at DOUBLE PRECISION,
    PRIMARY KEY (member_id, id)
);

CREATE TABLE messages (
    id              TEXT COLLATE "C" PRIMARY KEY,
    thread_id       TEXT COLLATE "C" NOT NULL,
    in_reply_to     TEXT COLLATE "C",
    sender_id       TEXT COLLATE "C" NOT NULL,
    recipient_ids   TEXT NOT NULL,
    created_at      DOUBLE PRECISION NOT NULL,
    subject_ct      BYTEA NOT NULL,
    body_ct         BYTEA NOT NULL,
    snippet_ct      BYTEA NOT NULL,
    attachment_count INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE attachments (
    message_id  TEXT COLLATE "C" NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    n           INTEGER NOT NULL,
    size        INTEGER NOT NULL,
    meta_ct     BYTEA NOT NULL,
    data_ct     BYTEA NOT NULL,
    PRIMARY KEY (message_id, n)
);

CREATE TABLE mailbox (
    member_id   TEXT COLLATE "C" NOT NULL,
    message_id  TEXT COLLATE "C" NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    thread_id   TEXT COLLATE "C" NOT NULL,
    folder      TEXT NOT NULL,
    unread      BOOLEAN NOT NULL,
    content_key BYTEA NOT NULL,
    PRIMARY KEY (member_id, message_id)
);
CREATE INDEX mailbox_folder ON mailbox (member_id, folder, message_id);
CREATE INDEX mailbox_unread ON mailbox (member_id, folder, message_id) WHERE unread;
CREATE INDEX mailbox_thread ON mailbox (member_id, thread_id, message_id);
CREATE INDEX mailbox_message ON mailbox (message_id);

CREATE TABLE word_index (
    member_id   TEXT COLLATE "C" NOT NULL,
    token       BYTEA NOT NULL,
    message_id  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (member_id, token, message_id)
);
CREATE INDEX word_index_message ON word_index (member_id, message_id);

CREATE TABLE idempotency_keys (
    member_id   TEXT COLLATE "C" NOT NULL,
    key         TEXT NOT NULL,
    fingerprint BYTEA NOT NULL,
    message_id  TEXT COLLATE "C" NOT NULL,
    thread_id   TEXT COLLATE "C" NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (member_id, key)
);
