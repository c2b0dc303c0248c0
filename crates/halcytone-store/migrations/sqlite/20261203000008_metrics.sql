-- Each reading of a published post's figures (PRODUCT §13): appended, never
-- overwritten, so the history outlives the platforms' own windows.
CREATE TABLE metrics (
    post_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    read_at_ms BIGINT NOT NULL
);
CREATE INDEX metrics_post ON metrics (post_id, metric, read_at_ms);
