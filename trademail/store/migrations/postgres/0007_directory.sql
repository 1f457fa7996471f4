-- The marketplace directory and its moderation (PostgreSQL).
-- Listings are what a member publishes to the whole marketplace (public text, kept as
-- typed); the contact section is sealed (contact_ct) and shown only to signed-in members.

ALTER TABLE members ADD COLUMN tier TEXT NOT NULL DEFAULT 'free';
ALTER TABLE members ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE members ADD COLUMN status_reason TEXT NOT NULL DEFAULT '';
-- Who set the status: 'system' (the contact-details rule, which also lifts what it set)
-- or 'staff' (lifted by staff only).
ALTER TABLE members ADD COLUMN status_by TEXT NOT NULL DEFAULT 'system';
ALTER TABLE members ADD COLUMN status_at DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN violations INTEGER NOT NULL DEFAULT 0;
-- The country as an ISO code, for the directory's country search ('' = not looked up yet,
-- '-' = not a country TradeMail knows).
ALTER TABLE members ADD COLUMN country_code TEXT NOT NULL DEFAULT '';
CREATE INDEX members_status ON members (status, id);
CREATE INDEX members_company ON members (company);
CREATE INDEX members_country_code ON members (country_code);

CREATE TABLE profiles (
    member_id       TEXT COLLATE "C" PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
    about           TEXT NOT NULL DEFAULT '',
    business_type   TEXT NOT NULL DEFAULT '',
    contact_ct      BYTEA,
    updated_at      DOUBLE PRECISION NOT NULL
);

CREATE TABLE products (
    member_id   TEXT COLLATE "C" NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    id          TEXT COLLATE "C" NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    category    TEXT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    updated_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (member_id, id)
);
CREATE INDEX products_category ON products (category, member_id);

CREATE TABLE leads (
    member_id   TEXT COLLATE "C" NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    id          TEXT COLLATE "C" NOT NULL,
    kind        TEXT NOT NULL,
    title       TEXT NOT NULL,
    description TEXT NOT NULL,
    quantity    TEXT NOT NULL,
    category    TEXT NOT NULL,
    expires_at  DOUBLE PRECISION NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    updated_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (member_id, id)
);
CREATE INDEX leads_category ON leads (category, member_id);

-- The words of a member's company name and listings, for the directory's search; a word
-- of a trade lead only until the lead expires (expires_at), every other word for good.
-- Each member indexed also has the empty word, which no search asks for.
CREATE TABLE directory_words (
    word        TEXT COLLATE "C" NOT NULL,
    member_id   TEXT COLLATE "C" NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    expires_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (word, member_id)
);
CREATE INDEX directory_words_member ON directory_words (member_id);

-- Each contact section a member opened: counted, capped per day, and shown to staff.
CREATE TABLE contact_views (
    viewer_id   TEXT COLLATE "C" NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    viewed_id   TEXT COLLATE "C" NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    created_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX contact_views_viewer ON contact_views (viewer_id, created_at);
CREATE INDEX contact_views_age ON contact_views (created_at);

-- Listing fields the detector found contact details in, for staff; spans as JSON. The text
-- is the listing's own (public) text while the flag is open and is cleared once resolved.
CREATE TABLE listing_flags (
    id          TEXT COLLATE "C" PRIMARY KEY,
    member_id   TEXT COLLATE "C" NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    listing     TEXT NOT NULL,
    listing_id  TEXT COLLATE "C" NOT NULL,
    field       TEXT NOT NULL,
    text        TEXT NOT NULL,
    spans       TEXT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    resolved_at DOUBLE PRECISION,
    -- Staff found it was no contact detail: the same text is not flagged again there.
    dismissed   BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX listing_flags_open ON listing_flags (created_at) WHERE resolved_at IS NULL;
CREATE INDEX listing_flags_member ON listing_flags (member_id, listing, listing_id);

-- Who did what to whom and why: status changes, reports read, exports. Never message text.
CREATE TABLE audit_log (
    id          TEXT COLLATE "C" PRIMARY KEY,
    actor_id    TEXT COLLATE "C",
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    member_id   TEXT COLLATE "C",
    detail      TEXT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX audit_log_member ON audit_log (member_id, id);

-- A member's blocks: another member (by id) or an outside address (by its keyed digest).
CREATE TABLE blocks (
    member_id   TEXT COLLATE "C" NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    id          TEXT COLLATE "C" NOT NULL,
    kind        TEXT NOT NULL,
    target      TEXT NOT NULL,
    label_ct    BYTEA NOT NULL,
    mode        TEXT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (member_id, id),
    UNIQUE (member_id, kind, target)
);

-- A conversation a member reported to staff: the one way staff ever read mail.
CREATE TABLE reports (
    id          TEXT COLLATE "C" PRIMARY KEY,
    reporter_id TEXT COLLATE "C" NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    message_id  TEXT COLLATE "C" NOT NULL,
    thread_id   TEXT COLLATE "C" NOT NULL,
    reason      TEXT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    closed_at   DOUBLE PRECISION
);
CREATE INDEX reports_open ON reports (created_at) WHERE closed_at IS NULL;
CREATE UNIQUE INDEX reports_one_open ON reports (reporter_id, thread_id) WHERE closed_at IS NULL;

-- Messages each member sent, by time, for the per-member sending limits.
CREATE TABLE send_log (
    member_id   TEXT COLLATE "C" NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    created_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX send_log_member ON send_log (member_id, created_at);
CREATE INDEX send_log_age ON send_log (created_at);

-- Who has written to whom: a member's first message to another starts a pair.
CREATE TABLE pairs (
    member_id   TEXT COLLATE "C" NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    other_id    TEXT COLLATE "C" NOT NULL,
    first_at    DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (member_id, other_id)
);
CREATE INDEX pairs_first ON pairs (member_id, first_at);
CREATE INDEX pairs_other ON pairs (other_id, member_id);
