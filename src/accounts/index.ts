import type { Feature } from "../platform/feature.ts";
import { deleteAccountJob } from "./account-deletion.ts";
import { accountCommands } from "./accounts-cli.ts";
import { purgeExpiredTokensJob } from "./accounts-jobs.ts";
import { accountsModule } from "./accounts-module.ts";
import { syncStripeEmailJob } from "./email-change.ts";
import { passwordResetJob } from "./password-reset.ts";

export { deletionState } from "./account-deletion.ts";
// What other features may use of accounts (they import this file, never the folder's others).
export {
  findUserByEmail,
  findUsersByIdOrCustomer,
  getUserById,
  setStripeCustomerId,
  setUserActive,
  type User,
} from "./accounts-service.ts";
export { authenticate, requireUser } from "./authenticate.ts";
export {
  requireVerifiedEmail,
  resendVerification,
  unverifiedEmailFailure,
} from "./email-verification.ts";
export { listSessions } from "./sessions.ts";
export { searchUsers, setStaff } from "./staff-service.ts";

/** Users, JWT tokens and the `/api/auth/…` routes; the hourly purge of expired refresh tokens. */
export const accounts: Feature = {
  name: "accounts",
  routes: accountsModule,
  jobs: [purgeExpiredTokensJob, passwordResetJob, deleteAccountJob, syncStripeEmailJob],
  commands: accountCommands,
};
