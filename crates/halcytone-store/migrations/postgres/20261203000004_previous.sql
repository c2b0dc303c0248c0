-- The content a re-plan replaced, so a reviewer sees what the document's
-- change did to a post (PRODUCT §10). NULL until the document changes it.
ALTER TABLE post_contents ADD COLUMN previous TEXT;
