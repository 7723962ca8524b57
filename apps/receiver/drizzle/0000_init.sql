CREATE TABLE "accounts" (
	"user_id" text PRIMARY KEY NOT NULL,
	"balance" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "postbacks" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"dedup_key" text,
	"status" text NOT NULL,
	"source" text NOT NULL,
	"offer_id" text,
	"advertiser_name" text,
	"payout" numeric,
	"occurred_at" timestamp with time zone,
	"is_loyalty_boost" boolean,
	"payload" jsonb,
	"user_id" text,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"delivery_count" integer DEFAULT 1 NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone,
	"locked_by" text,
	"locked_until" timestamp with time zone,
	"processed_at" timestamp with time zone,
	"outcome" jsonb,
	"last_error" text,
	"request" jsonb,
	"errors" jsonb,
	CONSTRAINT "postbacks_dedup_key_unique" UNIQUE("dedup_key"),
	CONSTRAINT "postbacks_status_check" CHECK (status IN ('pending', 'processing', 'credited', 'recorded', 'unattributed', 'held', 'rejected', 'dead'))
);
--> statement-breakpoint
CREATE TABLE "reward_transactions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"postback_id" bigint NOT NULL,
	"user_id" text NOT NULL,
	"points" bigint NOT NULL,
	"payout" numeric NOT NULL,
	"explanation" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "reward_transactions_postback_id_unique" UNIQUE("postback_id")
);
--> statement-breakpoint
ALTER TABLE "reward_transactions" ADD CONSTRAINT "reward_transactions_postback_id_postbacks_id_fk" FOREIGN KEY ("postback_id") REFERENCES "public"."postbacks"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "postbacks_ready_idx" ON "postbacks" USING btree ("next_attempt_at","id") WHERE "postbacks"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "postbacks_lease_idx" ON "postbacks" USING btree ("locked_until") WHERE "postbacks"."status" = 'processing';--> statement-breakpoint
CREATE INDEX "postbacks_received_at_idx" ON "postbacks" USING brin ("received_at");--> statement-breakpoint
CREATE INDEX "reward_transactions_user_id_idx" ON "reward_transactions" USING btree ("user_id","id");