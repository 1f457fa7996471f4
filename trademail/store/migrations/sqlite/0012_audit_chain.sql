-- The audit log becomes a chain: `seq` is each entry's place in it (1, 2, 3, … with no
-- gap) and `mac` a keyed MAC over the previous entry's MAC and every column of this one,
-- so an entry changed, removed or moved breaks the chain (`trademail audit verify`).
ALTER TABLE audit_log ADD COLUMN seq INTEGER;
ALTER TABLE audit_log ADD COLUMN mac BLOB;

-- Entries from before the chain take its first places, in the order they were written,
-- with no MAC: nothing that holds the key was there when they were written, and sealing
-- them later would seal whatever they had become by then. `audit_head.legacy` counts them;
-- the chain proper starts after them, from an empty MAC, and its first MAC covers its place
-- (so the count cannot move without breaking it).
UPDATE audit_log SET seq = (SELECT count(*) FROM audit_log AS earlier
                            WHERE earlier.id <= audit_log.id);
CREATE UNIQUE INDEX audit_log_seq ON audit_log (seq);

-- The chain's last place and MAC, one row: an append updates it first (SQLite has one
-- writer; PostgreSQL's row lock puts concurrent appends one after another).
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq     INTEGER NOT NULL,
    mac     BLOB NOT NULL,
    legacy  INTEGER NOT NULL
);
INSERT INTO audit_head (id, seq, mac, legacy) SELECT 1, count(*), X'', count(*) FROM audit_log;
