import { defineConfig } from "drizzle-kit";

// `npm run db:generate` diffs every feature's tables (each feature folder's `*-tables.ts`, and the
// platform's own) against the snapshots in migrations/meta and writes the next SQL migration.
// Review it, then commit it. A new feature's tables are found by the glob, with no list to edit.
export default defineConfig({
  dialect: "postgresql",
  schema: ["./src/*/*-tables.ts", "./src/platform/*/*-tables.ts"],
  out: "./migrations",
  casing: "snake_case",
});
