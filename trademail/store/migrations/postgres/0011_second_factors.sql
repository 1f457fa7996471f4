-- Second factors: authenticator apps (TOTP, the secret sealed), passkeys (WebAuthn public
-- keys), single-use recovery codes (keyed hashes), the one-time challenges of WebAuthn
-- ceremonies, and sign-ins waiting for their second factor (the browser's token hashed).
CREATE TABLE member_factors (
    member_id      TEXT COLLATE "C" NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    id             TEXT COLLATE "C" NOT NULL,
    kind           TEXT NOT NULL,      -- 'totp' or 'passkey'
    name           TEXT NOT NULL,
    secret_ct      BYTEA,               -- totp: the shared secret, sealed
    credential_id  BYTEA UNIQUE,        -- passkey: the authenticator's credential id
    public_key     BYTEA,               -- passkey: its COSE public key
    counter        BIGINT NOT NULL DEFAULT 0,  -- totp: last time step used; passkey: sign count
    created_at     DOUBLE PRECISION NOT NULL,
    last_used_at   DOUBLE PRECISION,
    PRIMARY KEY (member_id, id)
);

CREATE TABLE recovery_codes (
    member_id   TEXT COLLATE "C" NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    digest      BYTEA NOT NULL,
    used_at     DOUBLE PRECISION,
    PRIMARY KEY (member_id, digest)
);

CREATE TABLE factor_challenges (
    digest      BYTEA PRIMARY KEY,
    member_id   TEXT COLLATE "C" NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL,
    challenge   BYTEA NOT NULL,
    expires_at  DOUBLE PRECISION NOT NULL
);

CREATE TABLE pending_signins (
    digest      BYTEA PRIMARY KEY,
    member_id   TEXT COLLATE "C" NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    created_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX pending_signins_member ON pending_signins (member_id);
