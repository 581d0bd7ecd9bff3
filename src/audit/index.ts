import type { Feature } from "../platform/feature.ts";
import { auditCommands } from "./audit-cli.ts";
import { auditModule } from "./audit-routes.ts";

export {
  type AuditActor,
  type AuditContext,
  actorOr,
  currentActor,
  withActor,
  withDefaultActor,
} from "./audit-context.ts";
export { type AuditEntry, listAudit, recordAudit } from "./audit-service.ts";
export type { AuditRow } from "./audit-tables.ts";

/**
 * The audit trail (docs/access.md, 'Audit trail'): features record their transitions with
 * `recordAudit`; this brings the caller's history route and `audit:list`.
 */
export const audit: Feature = {
  name: "audit",
  routes: auditModule,
  commands: auditCommands,
};
