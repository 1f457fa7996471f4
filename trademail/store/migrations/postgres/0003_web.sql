-- The web inbox: sign-in sessions and pending changes of a member's real address.
-- Sessions are found by a digest of their cookie token; the token itself is never stored.
-- A pending address is sealed like members.email_ct and checked by its blind index.

CREATE TABLE web_sessions (
    member_id    TEXT COLLATE "C" NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    id           TEXT COLLATE "C" NOT NULL,
    digest       BYTEA NOT NULL UNIQUE,
    device       TEXT NOT NULL,
    created_at   DOUBLE PRECISION NOT NULL,
    last_seen_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (member_id, id)
);
CREATE INDEX web_sessions_seen ON web_sessions (last_seen_at);

CREATE TABLE email_changes (
    member_id   TEXT COLLATE "C" PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
    digest      BYTEA NOT NULL UNIQUE,
    email_ct    BYTEA NOT NULL,
    email_index BYTEA NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    expires_at  DOUBLE PRECISION NOT NULL
);
