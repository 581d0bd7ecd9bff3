CREATE TABLE "admin_idempotency_keys" (
	"staff_user_id" uuid NOT NULL,
	"key" text NOT NULL,
	"fingerprint" text NOT NULL,
	"status_code" integer,
	"body" jsonb,
	"created_at" timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
	CONSTRAINT "admin_idempotency_keys_staff_user_id_key_pk" PRIMARY KEY("staff_user_id","key")
);
--> statement-breakpoint
CREATE INDEX "admin_idempotency_keys_created_at_index" ON "admin_idempotency_keys" USING btree ("created_at");