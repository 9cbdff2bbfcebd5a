-- When each worker loop last asked each queue for work, for the console's
-- "has anyone polled this queue lately". A loop writes its row at most every
-- few seconds, never per claim; rows of pollers gone quiet for long are
-- deleted by the same writes. poller is the loop's owner id; description
-- says who it is to a person (host and pid).
CREATE TABLE queue_polls (
    queue        TEXT NOT NULL,
    poller       TEXT NOT NULL,
    description  TEXT NOT NULL,
    polled_at    REAL NOT NULL,
    PRIMARY KEY (queue, poller)
);
