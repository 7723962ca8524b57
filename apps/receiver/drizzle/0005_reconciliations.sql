CREATE TABLE "reconciliation_rows" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"reconciliation_id" bigint NOT NULL,
	"category" text,
	"line" integer,
	"occurred_at" timestamp with time zone,
	"offer_id" text,
	"advertiser_name" text,
	"payout" numeric,
	"delivery_status" text,
	"response_code" smallint,
	"user_id" text,
	"is_loyalty_boost" boolean,
	"payload" jsonb,
	"extra" jsonb,
	"postback_id" bigint,
	"mismatch" text,
	"problem" text
);
--> statement-breakpoint
CREATE TABLE "reconciliations" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"source" text NOT NULL,
	"range_from" timestamp with time zone,
	"range_to" timestamp with time zone,
	"options" jsonb NOT NULL,
	"summary" jsonb
);
--> statement-breakpoint
ALTER TABLE "postbacks" ADD COLUMN "recovered_by" bigint;--> statement-breakpoint
ALTER TABLE "reconciliation_rows" ADD CONSTRAINT "reconciliation_rows_reconciliation_id_reconciliations_id_fk" FOREIGN KEY ("reconciliation_id") REFERENCES "public"."reconciliations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reconciliation_rows" ADD CONSTRAINT "reconciliation_rows_postback_id_postbacks_id_fk" FOREIGN KEY ("postback_id") REFERENCES "public"."postbacks"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "reconciliation_rows_report_idx" ON "reconciliation_rows" USING btree ("reconciliation_id","category","id");--> statement-breakpoint
CREATE INDEX "reconciliation_rows_postback_idx" ON "reconciliation_rows" USING btree ("reconciliation_id","postback_id");--> statement-breakpoint
ALTER TABLE "postbacks" ADD CONSTRAINT "postbacks_recovered_by_reconciliations_id_fk" FOREIGN KEY ("recovered_by") REFERENCES "public"."reconciliations"("id") ON DELETE no action ON UPDATE no action;