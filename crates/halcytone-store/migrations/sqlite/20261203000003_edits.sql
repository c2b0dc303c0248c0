-- A person's edit survives re-planning (PRODUCT §5).
-- When a person last edited the post (seconds); NULL while it is as planned.
ALTER TABLE posts ADD COLUMN edited_at BIGINT;
-- The hash of what the plan last rendered for the post: a re-plan that
-- renders the same again leaves an edited post alone.
ALTER TABLE posts ADD COLUMN planned_hash TEXT;
UPDATE posts SET planned_hash = content_hash;
-- The document's newer version of an edited post, {"content", "request"},
-- kept beside the edit until a person resolves it.
ALTER TABLE post_contents ADD COLUMN conflict TEXT;
