import { defineConfig } from "drizzle-kit";

// `npm run db:generate` diffs the tables re-exported by src/platform/db/schema.ts against the
// snapshots in migrations/meta and writes the next SQL migration. Review it, then commit it.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/platform/db/schema.ts",
  out: "./migrations",
  casing: "snake_case",
});
