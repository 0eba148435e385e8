-- Which delivery round holds a pending row's claim: the round renews the
-- claims it holds while it runs and records outcomes only under its own.
ALTER TABLE outbox ADD COLUMN claim TEXT;
