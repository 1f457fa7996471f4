-- A member key being rotated: the key before, kept (wrapped under a master key like the
-- key itself) until every content key and word token of the member's is under the new one.
ALTER TABLE members ADD COLUMN previous_member_key BLOB;
