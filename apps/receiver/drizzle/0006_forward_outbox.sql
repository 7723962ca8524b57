CREATE TABLE "forward_attempts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"outbox_id" bigint NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"http_status" smallint,
	"latency_ms" integer NOT NULL,
	"error" text
);
--> statement-breakpoint
CREATE TABLE "forward_destinations" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"url" text NOT NULL,
	"secret" text NOT NULL,
	"previous_secret" text,
	"previous_secret_until" timestamp with time zone,
	"events" text[] NOT NULL,
	"state" text DEFAULT 'active' NOT NULL,
	"disabled_reason" text,
	"origin" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"failing_since" timestamp with time zone,
	"last_success_at" timestamp with time zone,
	CONSTRAINT "forward_destinations_url_unique" UNIQUE("url"),
	CONSTRAINT "forward_destinations_state_check" CHECK (state IN ('active', 'paused', 'disabled'))
);
--> statement-breakpoint
CREATE TABLE "forward_outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"destination_id" bigint NOT NULL,
	"postback_id" bigint NOT NULL,
	"event_type" text NOT NULL,
	"payload" jsonb NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone,
	"locked_by" text,
	"locked_until" timestamp with time zone,
	"delivered_at" timestamp with time zone,
	"last_error" text,
	CONSTRAINT "forward_outbox_status_check" CHECK (status IN ('pending', 'processing', 'delivered', 'dead'))
);
--> statement-breakpoint
ALTER TABLE "forward_attempts" ADD CONSTRAINT "forward_attempts_outbox_id_forward_outbox_id_fk" FOREIGN KEY ("outbox_id") REFERENCES "public"."forward_outbox"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "forward_outbox" ADD CONSTRAINT "forward_outbox_destination_id_forward_destinations_id_fk" FOREIGN KEY ("destination_id") REFERENCES "public"."forward_destinations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "forward_outbox" ADD CONSTRAINT "forward_outbox_postback_id_postbacks_id_fk" FOREIGN KEY ("postback_id") REFERENCES "public"."postbacks"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "forward_attempts_outbox_id_idx" ON "forward_attempts" USING btree ("outbox_id","id");--> statement-breakpoint
CREATE INDEX "forward_outbox_ready_idx" ON "forward_outbox" USING btree ("destination_id","next_attempt_at","id") WHERE "forward_outbox"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "forward_outbox_lease_idx" ON "forward_outbox" USING btree ("locked_until") WHERE "forward_outbox"."status" = 'processing';--> statement-breakpoint
CREATE INDEX "forward_outbox_postback_id_idx" ON "forward_outbox" USING btree ("postback_id");