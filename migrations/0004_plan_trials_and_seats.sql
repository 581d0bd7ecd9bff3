ALTER TABLE "plans" ADD COLUMN "trial_days" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "plans" ADD COLUMN "per_seat" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "plans" ADD COLUMN "min_quantity" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "plans" ADD COLUMN "max_quantity" integer;--> statement-breakpoint
ALTER TABLE "plans" ADD CONSTRAINT "plans_trial_days_range" CHECK ("plans"."trial_days" between 0 and 730);--> statement-breakpoint
ALTER TABLE "plans" ADD CONSTRAINT "plans_min_quantity_positive" CHECK ("plans"."min_quantity" >= 1);--> statement-breakpoint
ALTER TABLE "plans" ADD CONSTRAINT "plans_max_quantity_at_least_min" CHECK ("plans"."max_quantity" is null or "plans"."max_quantity" >= "plans"."min_quantity");