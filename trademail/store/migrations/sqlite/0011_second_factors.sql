-- Second factors: authenticator apps (TOTP, the secret sealed), passkeys (WebAuthn public
-- keys), single-use recovery codes (keyed hashes), the one-time challenges of WebAuthn
-- ceremonies, and sign-ins waiting for their second factor (the browser's token hashed).
CREATE TABLE member_factors (
    member_id      TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    id             TEXT NOT NULL,
    kind           TEXT NOT NULL,      -- 'totp' or 'passkey'
    name           TEXT NOT NULL,
    secret_ct      BLOB,               -- totp: the shared secret, sealed
    credential_id  BLOB UNIQUE,        -- passkey: the authenticator's credential id
    public_key     BLOB,               -- passkey: its COSE public key
    counter        INTEGER NOT NULL DEFAULT 0,  -- totp: last time step used; passkey: sign count
    created_at     REAL NOT NULL,
    last_used_at   REAL,
    PRIMARY KEY (member_id, id)
);

CREATE TABLE recovery_codes (
    member_id   TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    digest      BLOB NOT NULL,
    used_at     REAL,
    PRIMARY KEY (member_id, digest)
);

CREATE TABLE factor_challenges (
    digest      BLOB PRIMARY KEY,
    member_id   TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL,
    challenge   BLOB NOT NULL,
    expires_at  REAL NOT NULL
);

CREATE TABLE pending_signins (
    digest      BLOB PRIMARY KEY,
    member_id   TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    created_at  REAL NOT NULL
);
CREATE INDEX pending_signins_member ON pending_signins (member_id);
