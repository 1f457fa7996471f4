-- The web inbox: sign-in sessions and pending changes of a member's real address.
-- Sessions are found by a digest of their cookie token; the token itself is never stored.
-- A pending address is sealed like members.email_ct and checked by its blind index.

CREATE TABLE web_sessions (
    member_id    TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    digest       BLOB NOT NULL UNIQUE,
    device       TEXT NOT NULL,
    created_at   REAL NOT NULL,
    last_seen_at REAL NOT NULL,
    PRIMARY KEY (member_id, id)
);
CREATE INDEX web_sessions_seen ON web_sessions (last_seen_at);

CREATE TABLE email_changes (
    member_id   TEXT PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
    digest      BLOB NOT NULL UNIQUE,
    email_ct    BLOB NOT NULL,
    email_index BLOB NOT NULL,
    created_at  REAL NOT NULL,
    expires_at  REAL NOT NULL
);
