import type { Feature } from "../feature.ts";
import { emailCommands } from "./email-cli.ts";
import { emailRetryPolicy, SEND_EMAIL_QUEUE, sendEmailJob } from "./email-jobs.ts";

/**
 * Email delivery as the entry points see it: the send job with its settings-driven retry policy
 * (EMAIL_RETRY_*) and `emails:list`. Features queue emails through email-service.ts.
 */
export const email: Feature = {
  name: "email",
  jobs: [sendEmailJob],
  retryPolicies: (config) => ({ [SEND_EMAIL_QUEUE]: emailRetryPolicy(config) }),
  commands: emailCommands,
};
