-- The SMTP gateway (PostgreSQL): reply tokens, outside correspondents, mail notices
-- (bounces and refusals shown to the member) and webhooks. Addresses and secrets are
-- sealed (*_ct) and looked up by keyed digests (*_index, digest), never kept in plaintext.

CREATE TABLE reply_tokens (
    digest      BYTEA PRIMARY KEY,
    member_id   TEXT COLLATE "C" NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    thread_id   TEXT COLLATE "C" NOT NULL,
    token_ct    BYTEA NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    revoked     BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE UNIQUE INDEX reply_tokens_live ON reply_tokens (member_id, thread_id) WHERE NOT revoked;

CREATE TABLE correspondents (
    id              TEXT COLLATE "C" PRIMARY KEY,
    member_id       TEXT COLLATE "C" NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    alias           TEXT NOT NULL,
    address_index   BYTEA NOT NULL,
    address_ct      BYTEA NOT NULL,
    name_ct         BYTEA NOT NULL,
    created_at      DOUBLE PRECISION NOT NULL,
    UNIQUE (member_id, alias, address_index)
);

CREATE TABLE mail_notices (
    member_id   TEXT COLLATE "C" NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    id          TEXT COLLATE "C" NOT NULL,
    kind        TEXT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    outbox_id   TEXT COLLATE "C",
    PRIMARY KEY (member_id, id)
);
CREATE INDEX mail_notices_kind ON mail_notices (member_id, kind, created_at);

CREATE TABLE webhooks (
    member_id   TEXT COLLATE "C" NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    id          TEXT COLLATE "C" NOT NULL,
    url_ct      BYTEA NOT NULL,
    secret_ct   BYTEA NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (member_id, id)
);

-- Mail taken by mail (replies, mail to aliases): a keyed digest of its Message-ID per
-- member and conversation, never the Message-ID, so an MTA's retry is not posted twice.
CREATE TABLE inbound_mail (
    member_id   TEXT COLLATE "C" NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    digest      BYTEA NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (member_id, digest)
);
CREATE INDEX inbound_mail_age ON inbound_mail (created_at);
