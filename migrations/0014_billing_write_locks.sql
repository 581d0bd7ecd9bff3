CREATE TABLE "billing_write_locks" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"holder" uuid NOT NULL,
	"operation" text NOT NULL,
	"acquired_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
