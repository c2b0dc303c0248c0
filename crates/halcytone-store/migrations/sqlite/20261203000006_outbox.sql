-- The webhook outbox (PRODUCT §14): an event is written in the same
-- transaction as the state change it tells of, so a crash between the two
-- loses none; `body` is fixed at the first delivery so that every retry
-- sends the same event. An event about no post (a failing pre-flight
-- check) has no `post_id` and is written with its body. One delivery per
-- event and webhook URL, with its log.
CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    post_id     TEXT REFERENCES posts (id),
    created_at  BIGINT NOT NULL,
    body        TEXT
);
CREATE INDEX events_created ON events (created_at);

CREATE TABLE deliveries (
    event_id         TEXT NOT NULL REFERENCES events (id),
    url              TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_ms  BIGINT NOT NULL,
    last_status      BIGINT,
    last_error       TEXT,
    delivered_at     BIGINT,
    PRIMARY KEY (event_id, url)
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_ms);
