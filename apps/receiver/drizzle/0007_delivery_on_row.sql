ALTER TABLE "postbacks" ADD COLUMN "first_delivered_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "postbacks" ADD COLUMN "first_answer_ms" numeric(12, 3);--> statement-breakpoint
-- The delivery log as one relation: each postback's first delivery, kept on
-- its row (a request stored as rejected has no dedup key and was answered
-- its own status; every keyed row was answered 200), and the repeat
-- deliveries in "deliveries". Rows stored before 0007 have their first
-- delivery in "deliveries" and null first_* columns.
CREATE VIEW "delivery_log" AS
  SELECT NULL::bigint AS "id", "p"."id" AS "postback_id", "p"."first_delivered_at" AS "received_at",
    "p"."source",
    (CASE WHEN "p"."dedup_key" IS NULL THEN "p"."last_http_status" ELSE 200 END)::smallint AS "http_status",
    "p"."first_answer_ms" AS "answer_ms"
  FROM "postbacks" "p"
  WHERE "p"."first_answer_ms" IS NOT NULL
  UNION ALL
  SELECT "d"."id", "d"."postback_id", "d"."received_at", "d"."source", "d"."http_status", "d"."answer_ms"
  FROM "deliveries" "d";
