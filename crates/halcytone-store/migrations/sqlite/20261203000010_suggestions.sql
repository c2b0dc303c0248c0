-- A model's suggestion for a post's content (PRODUCT §11): kept beside the
-- content, never sent; accepting it makes it the content (an edit).
ALTER TABLE post_contents ADD COLUMN suggestion TEXT;
