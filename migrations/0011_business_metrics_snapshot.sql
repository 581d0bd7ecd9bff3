CREATE TABLE "business_metrics_snapshot" (
	"id" smallint PRIMARY KEY DEFAULT 1 NOT NULL,
	"metrics" jsonb NOT NULL,
	"computed_at" timestamp with time zone NOT NULL,
	CONSTRAINT "business_metrics_snapshot_one_row" CHECK ("business_metrics_snapshot"."id" = 1)
);
