-- DKIM keys (PostgreSQL). Each key signs outgoing mail under its selector; the private
-- key is sealed under the directory key (never in clear), the public one is the record's
-- p=. A key is pending until its record is published, then active; the key it replaces is
-- retiring (still published, no longer signing) until the grace period ends, then retired.
CREATE TABLE dkim_keys (
    id            TEXT COLLATE "C" PRIMARY KEY,
    selector      TEXT COLLATE "C" NOT NULL UNIQUE,
    algorithm     TEXT NOT NULL CHECK (algorithm IN ('ed25519', 'rsa')),
    private_ct    BYTEA NOT NULL,
    public_key    TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'active', 'retiring', 'retired')),
    created_at    DOUBLE PRECISION NOT NULL,
    activated_at  DOUBLE PRECISION,
    retiring_at   DOUBLE PRECISION
);

CREATE INDEX dkim_keys_state ON dkim_keys (state, algorithm);
