CREATE TABLE "operator_actions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"postback_id" bigint NOT NULL,
	"action" text NOT NULL,
	"operator" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"reason" text,
	"details" jsonb NOT NULL,
	"idempotency_key" text,
	CONSTRAINT "operator_actions_idempotency_key_unique" UNIQUE("idempotency_key"),
	CONSTRAINT "operator_actions_action_check" CHECK (action IN ('approve', 'reject', 'attribute', 'replay', 'reverse', 'repair', 'test_postback'))
);
--> statement-breakpoint
ALTER TABLE "reward_transactions" DROP CONSTRAINT "reward_transactions_postback_id_unique";--> statement-breakpoint
ALTER TABLE "postbacks" DROP CONSTRAINT "postbacks_status_check";--> statement-breakpoint
ALTER TABLE "postbacks" ADD COLUMN "repaired_as_id" bigint;--> statement-breakpoint
ALTER TABLE "reward_transactions" ADD COLUMN "kind" text DEFAULT 'credit' NOT NULL;--> statement-breakpoint
ALTER TABLE "reward_transactions" ADD COLUMN "reverses_id" bigint;--> statement-breakpoint
ALTER TABLE "operator_actions" ADD CONSTRAINT "operator_actions_postback_id_postbacks_id_fk" FOREIGN KEY ("postback_id") REFERENCES "public"."postbacks"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "operator_actions_postback_id_idx" ON "operator_actions" USING btree ("postback_id","id");--> statement-breakpoint
ALTER TABLE "postbacks" ADD CONSTRAINT "postbacks_repaired_as_id_postbacks_id_fk" FOREIGN KEY ("repaired_as_id") REFERENCES "public"."postbacks"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reward_transactions" ADD CONSTRAINT "reward_transactions_reverses_id_reward_transactions_id_fk" FOREIGN KEY ("reverses_id") REFERENCES "public"."reward_transactions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reward_transactions" ADD CONSTRAINT "reward_transactions_postback_id_kind_key" UNIQUE("postback_id","kind");--> statement-breakpoint
ALTER TABLE "postbacks" ADD CONSTRAINT "postbacks_status_check" CHECK (status IN ('pending', 'processing', 'credited', 'recorded', 'unattributed', 'held', 'rejected', 'dead', 'reversed', 'repaired'));--> statement-breakpoint
ALTER TABLE "reward_transactions" ADD CONSTRAINT "reward_transactions_kind_check" CHECK (kind IN ('credit', 'reversal'));