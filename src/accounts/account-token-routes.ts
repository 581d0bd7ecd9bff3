import type { FastifyRequest } from "fastify";
import { Type } from "typebox";
import type { AppDeps } from "../platform/feature.ts";
import {
  businessFailure,
  type ErrorCase,
  errorResponses,
  FieldErrors,
  failures,
} from "../platform/http/error-schemas.ts";
import { described } from "../platform/http/openapi.ts";
import { clientKey, type Limiter, type Throttle } from "../platform/http/throttle.ts";
import type { App } from "../platform/http/types.ts";
import {
  Message,
  PasswordResetBody,
  PasswordResetConfirmBody,
  VerifyEmailBody,
} from "./accounts-schemas.ts";
import { authenticate, requireUser } from "./authenticate.ts";
import { resendVerification, verifyEmail } from "./email-verification.ts";
import { confirmPasswordReset, requestPasswordReset } from "./password-reset.ts";

/**
 * The routes of the emailed links (docs/accounts.md): email verification and password reset, in
 * the original's `/api/auth/` style.
 */

const byIp = (limiter: Limiter) => (request: FastifyRequest) =>
  limiter(request, clientKey(request.ip));

const tokenRefused: ErrorCase = {
  status: 400,
  shape: FieldErrors,
  when: "The token is unknown, expired, already used, replaced by a newer one or no longer valid: one message on `token` says which.",
};

/** The failures of a route that spends an emailed token. */
const tokenRouteErrors = errorResponses(
  failures.any,
  failures.jsonBody,
  failures.fields,
  [tokenRefused],
  failures.throttled,
  failures.database,
);

export function registerAccountTokenRoutes(app: App, deps: AppDeps, throttle: Throttle): void {
  const { config } = deps;
  const db = deps.database.db;
  const services = { db, jobs: deps.jobs, config };
  const auth = authenticate(deps);
  const limit = {
    tokenIp: throttle.limiter("account-token-ip", config.THROTTLE_ACCOUNT_TOKEN_IP),
    resendIp: throttle.limiter("verify-resend-ip", config.THROTTLE_VERIFY_EMAIL_RESEND_IP),
    resendAccount: throttle.limiter(
      "verify-resend-account",
      config.THROTTLE_VERIFY_EMAIL_RESEND_ACCOUNT,
    ),
    resetIp: throttle.limiter("password-reset-ip", config.THROTTLE_PASSWORD_RESET_IP),
    resetAccount: throttle.counter(
      "password-reset-account",
      config.THROTTLE_PASSWORD_RESET_ACCOUNT.windowSeconds,
    ),
  };
  const base = { tags: ["auth"] };

  app.post(
    "/api/auth/verify-email/",
    {
      schema: {
        ...base,
        operationId: "auth_verify_email",
        summary: "Verify the account's email address with the token from the emailed link.",
        description:
          "The token comes from the link in the welcome or verification email " +
          "(FRONTEND_URL/verify-email?token=…). It works once, until EMAIL_VERIFICATION_LIFETIME, " +
          "and only the newest one sent works. No sign-in needed. Throttled per IP " +
          "(THROTTLE_ACCOUNT_TOKEN_IP).",
        body: VerifyEmailBody,
        response: {
          200: described("The address is verified (`email_verified` on the profile).", Message),
          ...tokenRouteErrors,
        },
      },
      onRequest: byIp(limit.tokenIp),
    },
    async (request) => {
      await verifyEmail(db, request.body.token);
      return { message: "Email verified." };
    },
  );

  app.post(
    "/api/auth/verify-email/resend/",
    {
      schema: {
        ...base,
        operationId: "auth_verify_email_resend",
        summary: "Email a new verification link to the signed-in user; earlier links stop working.",
        description:
          "Throttled per IP (THROTTLE_VERIFY_EMAIL_RESEND_IP) and per account " +
          "(THROTTLE_VERIFY_EMAIL_RESEND_ACCOUNT); a throttled request sends nothing and the " +
          "last link keeps working. Takes no parameters: a body, if any, is ignored (it must " +
          "still be JSON).",
        security: [{ bearerAuth: [] }],
        response: {
          200: described("A new verification email is queued.", Message),
          ...errorResponses(
            failures.any,
            failures.jsonBody,
            [businessFailure(400, "The address is already verified.")],
            failures.auth,
            failures.throttled,
            failures.database,
          ),
        },
      },
      config: { optionalBody: true, documentedBody: Type.Unknown({ description: "Ignored." }) },
      onRequest: byIp(limit.resendIp),
      preHandler: [auth, (request) => limit.resendAccount(request, requireUser(request).id)],
    },
    async (request) => {
      await resendVerification(services, requireUser(request));
      return { message: "Verification email sent." };
    },
  );

  app.post(
    "/api/auth/password-reset/",
    {
      schema: {
        ...base,
        operationId: "auth_password_reset",
        summary:
          "Email a password reset link. The answer is the same whether or not the address has an account.",
        description:
          "The link (FRONTEND_URL/reset-password?token=…) works once, for PASSWORD_RESET_LIFETIME; " +
          "a newer request or any password change ends it. Throttled per IP " +
          "(THROTTLE_PASSWORD_RESET_IP, 429). Per address (THROTTLE_PASSWORD_RESET_ACCOUNT) the " +
          "answer stays the same 200 but no further email is sent, and the last link keeps working.",
        body: PasswordResetBody,
        response: {
          200: described("Accepted; a link is emailed if the address has an account.", Message),
          ...errorResponses(
            failures.any,
            failures.jsonBody,
            failures.fields,
            failures.throttled,
            failures.database,
          ),
        },
      },
      onRequest: byIp(limit.resetIp),
    },
    async (request) => {
      const email = request.body.email;
      const { count } = await limit.resetAccount.hit(request, email.toLowerCase());
      if (count <= config.THROTTLE_PASSWORD_RESET_ACCOUNT.max) {
        await requestPasswordReset(services, email);
      }
      return {
        message: "If an account with this email exists, a password reset link has been sent.",
      };
    },
  );

  app.post(
    "/api/auth/password-reset/confirm/",
    {
      schema: {
        ...base,
        operationId: "auth_password_reset_confirm",
        summary:
          "Set a new password with the emailed token. Every refresh token of the user is revoked.",
        description:
          "The new password is checked like a registration's; a refused password leaves the link " +
          "usable. On success every session ends, pending reset links stop working, the address " +
          "counts as verified and a 'password changed' notice is emailed. Throttled per IP " +
          "(THROTTLE_ACCOUNT_TOKEN_IP).",
        body: PasswordResetConfirmBody,
        response: {
          200: described("The password is changed; sign in with it.", Message),
          ...tokenRouteErrors,
        },
      },
      onRequest: byIp(limit.tokenIp),
    },
    async (request) => {
      await confirmPasswordReset(services, request.body);
      return { message: "Password has been reset with the new password." };
    },
  );
}
