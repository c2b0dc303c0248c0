-- The language a post was written in (PRODUCT §14, `[locales.<code>]`): a
-- BCP 47 code such as `de` or `en-GB`. NULL for posts stored before
-- locales existed, which came from the main document.
ALTER TABLE posts ADD COLUMN locale TEXT;
CREATE INDEX posts_locale ON posts (locale, scheduled_at);
