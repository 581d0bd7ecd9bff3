CREATE TABLE "billing_reconcile_checkpoints" (
	"source" text PRIMARY KEY NOT NULL,
	"full_pass_done" boolean DEFAULT false NOT NULL,
	"list_kind" text,
	"list_cursor" text,
	"events_since" bigint,
	"lease_owner" text,
	"lease_until" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
