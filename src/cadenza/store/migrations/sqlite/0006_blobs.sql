-- Values too large to keep inline (above the inline threshold) are kept once
-- here, addressed by the SHA-256 of their JSON text; the row that holds such a
-- value keeps a reference to it instead (see cadenza.store.claim_check).
CREATE TABLE IF NOT EXISTS blobs (
    digest      TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    data        BLOB NOT NULL,
    created_at  REAL NOT NULL
);
