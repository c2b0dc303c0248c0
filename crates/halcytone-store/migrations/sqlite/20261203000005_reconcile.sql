-- What a reconciliation look-up found, recorded beside the send attempts
-- (PRODUCT §14): how an unconfirmed post was found on its channel, or how
-- its absence was proven. NULL for ordinary attempts.
ALTER TABLE attempts ADD COLUMN note TEXT;
