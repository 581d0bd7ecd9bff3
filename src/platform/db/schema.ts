// The one schema entry point: each feature owns its tables and is re-exported here, so Drizzle's
// relational queries and drizzle-kit see the whole database.
export * from "../../accounts/accounts-tables.ts";
export * from "../../billing/billing-tables.ts";
export * from "../../webhooks/webhook-tables.ts";
export * from "../email/email-tables.ts";
