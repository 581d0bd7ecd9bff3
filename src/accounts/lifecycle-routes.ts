import type { FastifyRequest } from "fastify";
import type { AppDeps } from "../platform/feature.ts";
import {
  type ErrorCase,
  errorResponses,
  FieldErrors,
  failures,
} from "../platform/http/error-schemas.ts";
import { described } from "../platform/http/openapi.ts";
import { clientKey, type Throttle } from "../platform/http/throttle.ts";
import type { App } from "../platform/http/types.ts";
import { requestAccountDeletion } from "./account-deletion.ts";
import {
  ChangeEmailBody,
  ChangeEmailConfirmBody,
  ChangeEmailConfirmed,
  DeleteAccountBody,
  Message,
} from "./accounts-schemas.ts";
import type { AccountsDeps } from "./accounts-service.ts";
import { requireUser } from "./authenticate.ts";
import { confirmEmailChange, requestEmailChange } from "./email-change.ts";
import { NoContent } from "./session-routes.ts";

// Account deletion and email change: the routes of docs/accounts.md, 'Deleting an account' and
// 'Changing the email address'.

const tokenRefused: ErrorCase = {
  status: 400,
  shape: FieldErrors,
  when:
    "The token is unknown, expired, already used, replaced by a newer one or no longer valid, " +
    "or another account took the address since the request: one message on `token` says which.",
};

export function registerLifecycleRoutes(
  app: App,
  deps: AccountsDeps,
  appDeps: AppDeps,
  throttle: Throttle,
  auth: (request: FastifyRequest) => Promise<void>,
): void {
  const base = { tags: ["auth"], security: [{ bearerAuth: [] }] };
  // Guessing the password with a stolen access token: the same budget as change-password's.
  const deleteAccount = throttle.limiter(
    "delete-account",
    appDeps.config.THROTTLE_CHANGE_PASSWORD_ACCOUNT,
  );
  const changeEmail = throttle.limiter(
    "change-email-account",
    appDeps.config.THROTTLE_CHANGE_EMAIL_ACCOUNT,
  );
  const confirmIp = throttle.limiter(
    "change-email-confirm-ip",
    appDeps.config.THROTTLE_ACCOUNT_TOKEN_IP,
  );
  const emailDeps = { db: deps.db, config: appDeps.config, jobs: deps.jobs };

  app.post(
    "/api/auth/change-email/",
    {
      schema: {
        ...base,
        operationId: "auth_change_email",
        summary:
          "Ask to change the account's email address: a confirmation link goes to the new address, a notice to the current one.",
        description:
          "The password must match, and no account may hold the new address (compared " +
          "case-insensitively). Nothing changes until the link is followed " +
          "(POST /api/auth/change-email/confirm/); it works once, for EMAIL_CHANGE_LIFETIME, and " +
          "a newer request replaces it. Throttled per account (THROTTLE_CHANGE_EMAIL_ACCOUNT).",
        body: ChangeEmailBody,
        response: {
          200: described("The confirmation link is on its way to the new address.", Message),
          ...errorResponses(
            failures.any,
            failures.jsonBody,
            failures.fields,
            failures.auth,
            failures.throttled,
            failures.database,
          ),
        },
      },
      preValidation: [auth, (request) => changeEmail(request, requireUser(request).id)],
    },
    async (request) => {
      await requestEmailChange(emailDeps, requireUser(request).id, request.body);
      return { message: "Confirmation email sent to the new address." };
    },
  );

  app.post(
    "/api/auth/change-email/confirm/",
    {
      schema: {
        tags: ["auth"],
        operationId: "auth_change_email_confirm",
        summary: "Confirm an email change with the token from the link sent to the new address.",
        description:
          "The token comes from the link (FRONTEND_URL/confirm-email-change?token=…). The address " +
          "changes and counts as verified; the Stripe customer's email follows in the " +
          "background. No sign-in needed. Throttled per IP (THROTTLE_ACCOUNT_TOKEN_IP).",
        body: ChangeEmailConfirmBody,
        response: {
          200: described("The address changed.", ChangeEmailConfirmed),
          ...errorResponses(
            failures.any,
            failures.jsonBody,
            failures.fields,
            [tokenRefused],
            failures.throttled,
            failures.database,
          ),
        },
      },
      onRequest: (request) => confirmIp(request, clientKey(request.ip)),
    },
    async (request) => ({
      message: "Email address changed.",
      email: await confirmEmailChange(emailDeps, request.body.token),
    }),
  );

  app.delete(
    "/api/auth/profile/",
    {
      schema: {
        ...base,
        operationId: "auth_profile_delete",
        summary:
          "Delete the account (the password again); 204, and the deletion runs in the background.",
        description:
          "The account is locked out at once (every session ends). A background job then cancels " +
          "any live subscription at Stripe (at once, or at the end of the paid period with " +
          "ACCOUNT_DELETE_CANCEL=period_end), detaches the saved payment methods, sends a goodbye " +
          "email and anonymizes the account; payments and invoices are kept, without the person " +
          "(docs/accounts.md). Throttled per account (THROTTLE_CHANGE_PASSWORD_ACCOUNT).",
        body: DeleteAccountBody,
        response: {
          204: NoContent("Deletion scheduled; the account is already locked out."),
          ...errorResponses(
            failures.any,
            failures.jsonBody,
            failures.fields,
            failures.auth,
            failures.throttled,
            failures.database,
          ),
        },
      },
      preValidation: [auth, (request) => deleteAccount(request, requireUser(request).id)],
    },
    async (request, reply) => {
      await requestAccountDeletion(
        { db: deps.db, config: appDeps.config, jobs: deps.jobs },
        requireUser(request).id,
        request.body.password,
      );
      return reply.code(204).send();
    },
  );
}
