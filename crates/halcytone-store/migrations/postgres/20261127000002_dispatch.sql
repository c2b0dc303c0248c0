-- What the dispatcher keeps per post (PRODUCT §5). The dispatcher's times are
-- epoch milliseconds: leases and retry times are shorter than a second in tests.
ALTER TABLE posts DROP COLUMN next_attempt_at;
ALTER TABLE posts DROP COLUMN lease_until;
-- Not due before this time (a transient failure's backoff); NULL when due at scheduled_at.
ALTER TABLE posts ADD COLUMN next_attempt_ms BIGINT;
-- The lease: which dispatcher holds the post, and until when.
ALTER TABLE posts ADD COLUMN lease_until_ms BIGINT;
-- Set just before a request leaves: a lease that expires with this set may have been sent.
ALTER TABLE posts ADD COLUMN sending_since_ms BIGINT;
-- Send attempts that count towards resilience.max_attempts (reset by a retry).
ALTER TABLE posts ADD COLUMN attempt_count BIGINT NOT NULL DEFAULT 0;
-- The channel's ids of what went out: every part of a thread, so far or in full.
ALTER TABLE posts ADD COLUMN external_ids TEXT NOT NULL DEFAULT '[]';
ALTER TABLE posts ADD COLUMN published_at_ms BIGINT;
CREATE INDEX posts_lease ON posts (status, lease_until_ms);
-- Leasing takes the oldest due posts of one channel.
CREATE INDEX posts_due ON posts (status, channel, scheduled_at);
CREATE INDEX posts_plan ON posts (plan_id);

-- A post's content and request previews live beside it: the dispatcher
-- updates a post three times per send, and a row that carries a 20 KB
-- newsletter would be rewritten whole each time.
CREATE TABLE post_contents (
    post_id  TEXT PRIMARY KEY REFERENCES posts (id),
    content  TEXT NOT NULL,
    request  TEXT NOT NULL
);
INSERT INTO post_contents (post_id, content, request) SELECT id, content, request FROM posts;
ALTER TABLE posts DROP COLUMN content;
ALTER TABLE posts DROP COLUMN request;
