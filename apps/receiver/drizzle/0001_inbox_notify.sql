-- Wake every worker (in every receiver process) when postbacks arrive.
-- A statement-level trigger sends one notification per ingest batch, and
-- PostgreSQL delivers it only after the batch commits.
CREATE OR REPLACE FUNCTION "postbacks_notify"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('postbacks_pending', '');
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "postbacks_notify"
AFTER INSERT ON "postbacks"
FOR EACH STATEMENT EXECUTE FUNCTION "postbacks_notify"();
--> statement-breakpoint
-- Dedup keys are hashes, compared and never shown sorted: binary collation
-- makes every unique-index probe a memcmp instead of a locale comparison.
ALTER TABLE "postbacks" ALTER COLUMN "dedup_key" TYPE text COLLATE "C";
