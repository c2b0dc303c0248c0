-- The durable store: plans, posts and every send attempt (PRODUCT §5).
-- Times are epoch seconds (UTC); ids are text; JSON is stored as text.
CREATE TABLE plans (
    id          TEXT PRIMARY KEY,
    period      TEXT NOT NULL,
    start_date  TEXT NOT NULL,
    timezone    TEXT NOT NULL,
    warnings    TEXT NOT NULL DEFAULT '[]',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE posts (
    id               TEXT PRIMARY KEY,
    plan_id          TEXT NOT NULL REFERENCES plans (id),
    channel          TEXT NOT NULL,
    scheduled_at     BIGINT NOT NULL,
    item_id          TEXT NOT NULL,
    item             TEXT NOT NULL,
    includes         TEXT NOT NULL DEFAULT '[]',
    status           TEXT NOT NULL CHECK (status IN ('draft', 'approved', 'scheduled', 'publishing',
                         'published', 'rejected', 'cancelled', 'failed', 'unconfirmed')),
    content          TEXT NOT NULL,
    request          TEXT NOT NULL,
    content_hash     TEXT NOT NULL,
    approved_hash    TEXT,
    next_attempt_at  BIGINT,
    lease_owner      TEXT,
    lease_until      BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX posts_status_time ON posts (status, scheduled_at);
CREATE INDEX posts_channel_time ON posts (channel, scheduled_at);

CREATE TABLE attempts (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    post_id         TEXT NOT NULL REFERENCES posts (id),
    attempted_at    BIGINT NOT NULL,
    outcome         TEXT NOT NULL,
    error           TEXT,
    external_ids    TEXT NOT NULL DEFAULT '[]',
    correlation_id  TEXT,
    body_hash       TEXT
);
CREATE INDEX attempts_post ON attempts (post_id, id);
