CREATE TABLE "deliveries" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"postback_id" bigint NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	"source" text NOT NULL,
	"http_status" smallint NOT NULL,
	"answer_ms" numeric(12, 3) NOT NULL
);
--> statement-breakpoint
ALTER TABLE "postbacks" ADD COLUMN "test" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "postbacks" ADD COLUMN "last_http_status" smallint;--> statement-breakpoint
ALTER TABLE "deliveries" ADD CONSTRAINT "deliveries_postback_id_postbacks_id_fk" FOREIGN KEY ("postback_id") REFERENCES "public"."postbacks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "deliveries_postback_id_idx" ON "deliveries" USING btree ("postback_id","id");--> statement-breakpoint
CREATE INDEX "deliveries_received_at_idx" ON "deliveries" USING brin ("received_at");--> statement-breakpoint
CREATE INDEX "postbacks_history_idx" ON "postbacks" USING btree ("received_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "postbacks_user_id_idx" ON "postbacks" USING hash ("user_id");