-- The newsletter segment a post is the issue of (PRODUCT §12, `[[segments]]`
-- `id`); NULL for a post of no segment.
ALTER TABLE posts ADD COLUMN segment TEXT;
