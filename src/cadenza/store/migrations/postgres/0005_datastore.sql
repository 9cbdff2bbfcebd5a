-- StackStorm's datastore (st2kv): sqlite/0005_datastore.sql, column for column.
-- * scope is 'system' or 'user'; owner is the user name of a 'user' entry
--   and '' for a 'system' one, so one key name may exist once per user.
-- * value is the text as set, or, when encrypted, the encrypted text
--   ('fernet:' + token); the clear text is never kept.
CREATE TABLE datastore (
    scope       TEXT NOT NULL,
    owner       TEXT NOT NULL DEFAULT '',
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    encrypted   BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (scope, owner, name)
);
