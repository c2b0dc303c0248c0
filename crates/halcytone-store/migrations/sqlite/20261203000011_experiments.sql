-- A/B experiments (PRODUCT §12): a post's experiment and arm (`A`, `B`, or
-- `winner`, the send of the winning arm to the rest); NULL for a post of no
-- experiment.
ALTER TABLE posts ADD COLUMN experiment TEXT;
ALTER TABLE posts ADD COLUMN arm TEXT;
-- Each experiment's decision, once: its winner, why, and the figures it was
-- decided on (a JSON document). A winner's send is never due before its
-- experiment has a row here.
CREATE TABLE experiment_decisions (
    experiment TEXT PRIMARY KEY,
    decided_at_ms BIGINT NOT NULL,
    decision TEXT NOT NULL
);
