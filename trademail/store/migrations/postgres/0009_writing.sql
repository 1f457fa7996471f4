-- What a member keeps for writing: their signature (sealed) and drafts saved on the server
-- (each under a content key of its own, wrapped under the member's key, like a message).
CREATE TABLE signatures (
    member_id     TEXT COLLATE "C" PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
    signature_ct  BYTEA NOT NULL,
    updated_at    DOUBLE PRECISION NOT NULL
);

CREATE TABLE drafts (
    member_id    TEXT COLLATE "C" NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    id           TEXT COLLATE "C" NOT NULL,
    content_key  BYTEA NOT NULL,
    draft_ct     BYTEA NOT NULL,
    updated_at   DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (member_id, id)
);
CREATE INDEX drafts_recent ON drafts (member_id, updated_at);
