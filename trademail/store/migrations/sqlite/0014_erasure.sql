-- Account erasure (SQLite). A deleted member's row goes, with everything of theirs; what is
-- kept is that the id was a member's (so the other parties' copies show "former member")
-- and keyed digests of the names they used (username, aliases), so none is ever handed to
-- anyone else. Nothing here is personal: an id, a time, blind indexes.
CREATE TABLE former_members (
    id          TEXT PRIMARY KEY,
    erased_at   REAL NOT NULL
);

CREATE TABLE retired_names (
    name_index  BLOB PRIMARY KEY,
    retired_at  REAL NOT NULL
);
