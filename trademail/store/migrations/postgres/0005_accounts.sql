-- Accounts that prove their address (PostgreSQL).
-- An address is unique among confirmed members only: a sign-up with a taken address still
-- makes an account (so the answer tells nobody whether the address is registered), but it
-- can never confirm that address. Members signed up before this migration had no way to
-- confirm; they keep their standing.

ALTER TABLE members DROP CONSTRAINT members_email_index_key;
ALTER TABLE members ADD COLUMN email_confirmed BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE members ALTER COLUMN email_confirmed SET DEFAULT FALSE;
ALTER TABLE members ADD COLUMN address_since DOUBLE PRECISION;
UPDATE members SET address_since = created_at;
ALTER TABLE members ALTER COLUMN address_since SET NOT NULL;
CREATE UNIQUE INDEX members_confirmed_email ON members (email_index) WHERE email_confirmed;
CREATE INDEX members_email ON members (email_index);

-- Every address a member has used (sealed like members.email_ct), so a reply by mail is
-- scrubbed of old addresses too.
CREATE TABLE member_addresses (
    member_id   TEXT COLLATE "C" NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    email_index BYTEA NOT NULL,
    email_ct    BYTEA NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (member_id, email_index)
);
INSERT INTO member_addresses (member_id, email_index, email_ct, created_at)
    SELECT id, email_index, email_ct, created_at FROM members;

-- Single-use links mailed to a member: confirm the address, reset the password. Only a
-- digest of the token is kept; `email_index` is the address the link was mailed to.
CREATE TABLE account_tokens (
    digest      BYTEA PRIMARY KEY,
    member_id   TEXT COLLATE "C" NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL,
    email_index BYTEA NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    expires_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX account_tokens_member ON account_tokens (member_id, purpose);
CREATE INDEX account_tokens_expiry ON account_tokens (expires_at);

-- No API token lives for ever any more: one made without a lifetime gets the default
-- (90 days), counted from this upgrade so that no app loses its token at once.
UPDATE api_tokens SET expires_at = EXTRACT(EPOCH FROM now()) + 90 * 86400 WHERE expires_at IS NULL;

-- Throttle subjects and idempotency keys are kept keyed (HMAC) from now on; the rows kept
-- as typed are short-lived anyway and go now.
DELETE FROM signin_failures;
DELETE FROM idempotency_keys;
