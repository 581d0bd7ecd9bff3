export { type AuditActor, type AuditContext, currentActor, withActor } from "./audit-context.ts";
export { type AuditEntry, listAudit, recordAudit } from "./audit-service.ts";
export type { AuditRow } from "./audit-tables.ts";
