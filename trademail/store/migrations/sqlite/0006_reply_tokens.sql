-- A reply token is made with the notification that carries it, in the transaction of the
-- message it is about. Two messages in one thread at once may each make one, so a member
-- may hold several live tokens for a thread: every one of them works until revoked.
DROP INDEX reply_tokens_live;
CREATE INDEX reply_tokens_thread ON reply_tokens (member_id, thread_id) WHERE NOT revoked;
