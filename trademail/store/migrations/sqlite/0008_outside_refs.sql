-- The Message-ID an outside sender's mail came with, sealed under the member it was sent
-- to, so the member's answer by mail names it (In-Reply-To, References) and threads in
-- the outsider's own mail client.
CREATE TABLE outside_refs (
    member_id   TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    message_id  TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    thread_id   TEXT NOT NULL,
    ref_ct      BLOB NOT NULL,
    PRIMARY KEY (member_id, message_id)
);
CREATE INDEX outside_refs_thread ON outside_refs (member_id, thread_id, message_id);

-- Whether an outsider's address is, or was, some member's (then it is never shown).
CREATE INDEX member_addresses_email ON member_addresses (email_index);
