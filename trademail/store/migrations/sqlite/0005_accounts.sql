-- Accounts that prove their address (SQLite).
-- An address is unique among confirmed members only: a sign-up with a taken address still
-- makes an account (so the answer tells nobody whether the address is registered), but it
-- can never confirm that address. SQLite cannot drop a column's UNIQUE, so `members` is
-- rebuilt (the runner turns foreign keys off for migrations and checks them before commit).
-- Members signed up before this migration had no way to confirm; they keep their standing.

CREATE TABLE members_new (
    id              TEXT PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    email_ct        BLOB NOT NULL,
    email_index     BLOB NOT NULL,
    email_confirmed INTEGER NOT NULL DEFAULT 0,
    address_since   REAL NOT NULL,
    company         TEXT NOT NULL,
    country         TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    member_key      BLOB NOT NULL,
    notify          TEXT NOT NULL DEFAULT 'summary',
    created_at      REAL NOT NULL
);
INSERT INTO members_new (id, username, email_ct, email_index, email_confirmed, address_since,
                         company, country, password_hash, member_key, notify, created_at)
    SELECT id, username, email_ct, email_index, 1, created_at, company, country,
           password_hash, member_key, notify, created_at FROM members;
DROP TABLE members;
ALTER TABLE members_new RENAME TO members;
CREATE UNIQUE INDEX members_confirmed_email ON members (email_index) WHERE email_confirmed;
CREATE INDEX members_email ON members (email_index);

-- Every address a member has used (sealed like members.email_ct), so a reply by mail is
-- scrubbed of old addresses too.
CREATE TABLE member_addresses (
    member_id   TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    email_index BLOB NOT NULL,
    email_ct    BLOB NOT NULL,
    created_at  REAL NOT NULL,
    PRIMARY KEY (member_id, email_index)
);
INSERT INTO member_addresses (member_id, email_index, email_ct, created_at)
    SELECT id, email_index, email_ct, created_at FROM members;

-- Single-use links mailed to a member: confirm the address, reset the password. Only a
-- digest of the token is kept; `email_index` is the address the link was mailed to.
CREATE TABLE account_tokens (
    digest      BLOB PRIMARY KEY,
    member_id   TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL,
    email_index BLOB NOT NULL,
    created_at  REAL NOT NULL,
    expires_at  REAL NOT NULL
);
CREATE INDEX account_tokens_member ON account_tokens (member_id, purpose);
CREATE INDEX account_tokens_expiry ON account_tokens (expires_at);

-- No API token lives for ever any more: one made without a lifetime gets the default
-- (90 days), counted from this upgrade so that no app loses its token at once.
UPDATE api_tokens SET expires_at = (julianday('now') - 2440587.5) * 86400.0 + 90 * 86400 WHERE expires_at IS NULL;

-- Throttle subjects and idempotency keys are kept keyed (HMAC) from now on; the rows kept
-- as typed are short-lived anyway and go now.
DELETE FROM signin_failures;
DELETE FROM idempotency_keys;
