-- What a member keeps for writing: their signature (sealed) and drafts saved on the server
-- (each under a content key of its own, wrapped under the member's key, like a message).
CREATE TABLE signatures (
    member_id     TEXT PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
    signature_ct  BLOB NOT NULL,
    updated_at    REAL NOT NULL
);

CREATE TABLE drafts (
    member_id    TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    content_key  BLOB NOT NULL,
    draft_ct     BLOB NOT NULL,
    updated_at   REAL NOT NULL,
    PRIMARY KEY (member_id, id)
);
CREATE INDEX drafts_recent ON drafts (member_id, updated_at);
