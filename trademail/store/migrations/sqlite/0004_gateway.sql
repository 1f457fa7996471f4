-- The SMTP gateway (SQLite): reply tokens, outside correspondents, mail notices
-- (bounces and refusals shown to the member) and webhooks. Addresses and secrets are
-- sealed (*_ct) and looked up by keyed digests (*_index, digest), never kept in plaintext.

CREATE TABLE reply_tokens (
    digest      BLOB PRIMARY KEY,
    member_id   TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    thread_id   TEXT NOT NULL,
    token_ct    BLOB NOT NULL,
    created_at  REAL NOT NULL,
    revoked     INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX reply_tokens_live ON reply_tokens (member_id, thread_id) WHERE NOT revoked;

CREATE TABLE correspondents (
    id              TEXT PRIMARY KEY,
    member_id       TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    alias           TEXT NOT NULL,
    address_index   BLOB NOT NULL,
    address_ct      BLOB NOT NULL,
    name_ct         BLOB NOT NULL,
    created_at      REAL NOT NULL,
    UNIQUE (member_id, alias, address_index)
);

CREATE TABLE mail_notices (
    member_id   TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    created_at  REAL NOT NULL,
    outbox_id   TEXT,
    PRIMARY KEY (member_id, id)
);
CREATE INDEX mail_notices_kind ON mail_notices (member_id, kind, created_at);

CREATE TABLE webhooks (
    member_id   TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    url_ct      BLOB NOT NULL,
    secret_ct   BLOB NOT NULL,
    created_at  REAL NOT NULL,
    PRIMARY KEY (member_id, id)
);

-- Mail taken by mail (replies, mail to aliases): a keyed digest of its Message-ID per
-- member and conversation, never the Message-ID, so an MTA's retry is not posted twice.
CREATE TABLE inbound_mail (
    member_id   TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    digest      BLOB NOT NULL,
    created_at  REAL NOT NULL,
    PRIMARY KEY (member_id, digest)
);
CREATE INDEX inbound_mail_age ON inbound_mail (created_at);
