import type { FastifyRequest } from "fastify";
import type { AppDeps } from "../platform/feature.ts";
import {
  businessFailure,
  errorResponses,
  failures,
  Unauthorized,
} from "../platform/http/error-schemas.ts";
import { described } from "../platform/http/openapi.ts";
import { clientKey, type Limiter, type Throttle } from "../platform/http/throttle.ts";
import type { App } from "../platform/http/types.ts";
import {
  AuthResult,
  ChangePasswordBody,
  ChangePasswordResult,
  LoginBody,
  LogoutBody,
  Message,
  ProfilePatchBody,
  ProfilePutBody,
  RefreshBody,
  RegisterBody,
  Tokens,
  User,
} from "./accounts-schemas.ts";
import {
  type AccountsDeps,
  changePassword,
  InvalidLoginError,
  login,
  type ProfileChanges,
  register,
  updateProfile,
  userBody,
} from "./accounts-service.ts";
import { authenticate, requireUser } from "./authenticate.ts";
import { registerLifecycleRoutes } from "./lifecycle-routes.ts";
import { loginThrottle } from "./login-throttle.ts";
import { registerSessionRoutes } from "./session-routes.ts";
import { clientInfo } from "./sessions.ts";
import { logout, refreshTokenUser, rotateRefreshToken } from "./token-service.ts";

/** Per-IP and per-account limits of the sensitive endpoints (THROTTLE_* settings). */
function limiters(throttle: Throttle, config: AppDeps["config"]) {
  return {
    loginIp: throttle.limiter("login-ip", config.THROTTLE_LOGIN_IP),
    loginAccount: loginThrottle(throttle, config),
    registerIp: throttle.limiter("register-ip", config.THROTTLE_REGISTER_IP),
    refreshIp: throttle.limiter("refresh-ip", config.THROTTLE_REFRESH_IP),
    refreshAccount: throttle.limiter("refresh-account", config.THROTTLE_REFRESH_ACCOUNT),
    changePasswordIp: throttle.limiter("change-password-ip", config.THROTTLE_CHANGE_PASSWORD_IP),
    changePasswordAccount: throttle.limiter(
      "change-password-account",
      config.THROTTLE_CHANGE_PASSWORD_ACCOUNT,
    ),
  };
}

const byIp = (limiter: Limiter) => (request: FastifyRequest) =>
  limiter(request, clientKey(request.ip));

/** The device a session records (src/accounts/sessions.ts). */
const clientOf = (request: FastifyRequest) => clientInfo(request.headers["user-agent"], request.ip);

export function registerAccountRoutes(
  app: App,
  deps: AccountsDeps,
  appDeps: AppDeps,
  throttle: Throttle,
): void {
  const limit = limiters(throttle, appDeps.config);
  const auth = authenticate(appDeps);
  const base = { tags: ["auth"] };
  const bearer = [{ bearerAuth: [] }];

  app.post(
    "/api/auth/register/",
    {
      schema: {
        ...base,
        operationId: "auth_register",
        summary: "Create an account; returns the user and a token pair. A welcome email is queued.",
        description:
          "Validates every field (a taken email or username, a weak or mismatched password are " +
          "per-field errors), creates the user, queues the welcome email in the same transaction " +
          "and signs the user in. Throttled per IP (THROTTLE_REGISTER_IP).",
        body: RegisterBody,
        response: {
          201: described("Registered and signed in: the new user and a token pair.", AuthResult),
          ...errorResponses(
            failures.any,
            failures.jsonBody,
            failures.fields,
            failures.throttled,
            failures.database,
          ),
        },
      },
      onRequest: byIp(limit.registerIp),
    },
    async (request, reply) => {
      const result = await register(deps, request.body, clientOf(request));
      return reply.code(201).send({ message: "Registration successful.", ...result });
    },
  );

  app.post(
    "/api/auth/login/",
    {
      schema: {
        ...base,
        operationId: "auth_login",
        summary: "Sign in with email and password; returns the user and a token pair.",
        description:
          "A wrong email or password is one `non_field_errors` message, the same for both. " +
          "Throttled per IP (THROTTLE_LOGIN_IP) and, for failed attempts, per account " +
          "(THROTTLE_LOGIN_ACCOUNT, THROTTLE_LOGIN_ACCOUNT_TOTAL).",
        body: LoginBody,
        response: {
          200: described("Signed in: the user and a token pair.", AuthResult),
          ...errorResponses(
            failures.any,
            failures.jsonBody,
            failures.fields,
            failures.throttled,
            failures.database,
          ),
        },
      },
      onRequest: byIp(limit.loginIp),
      // After validation, so the account (the email) is known. Only failures count.
      preHandler: (request) =>
        limit.loginAccount.check(request, (request.body as { email: string }).email),
      onError: async (request, _reply, error) => {
        if (error instanceof InvalidLoginError) {
          await limit.loginAccount.failed(request, (request.body as { email: string }).email);
        }
      },
    },
    async (request) => ({
      message: "Login successful.",
      ...(await login(deps, request.body, clientOf(request))),
    }),
  );

  app.post(
    "/api/auth/logout/",
    {
      schema: {
        ...base,
        operationId: "auth_logout",
        summary: "Blacklist the caller's own refresh token.",
        description:
          "The refresh token must be one of the signed-in user's; it is blacklisted so it can " +
          "never be refreshed again. The access token stays valid until it expires.",
        security: bearer,
        body: LogoutBody,
        response: {
          200: described("Logged out: the refresh token is blacklisted.", Message),
          ...errorResponses(
            failures.any,
            failures.jsonBody,
            failures.fields,
            [
              businessFailure(
                400,
                "No refresh token, or one that is invalid, expired or not the caller's.",
              ),
            ],
            failures.auth,
            failures.database,
          ),
        },
      },
      preValidation: auth,
    },
    async (request) => {
      await logout(deps.db, deps.config, requireUser(request).id, request.body.refresh);
      return { message: "Logout successful." };
    },
  );

  app.post(
    "/api/auth/token/refresh/",
    {
      schema: {
        ...base,
        operationId: "auth_token_refresh",
        summary:
          "Exchange a refresh token for a new pair. The old refresh token is blacklisted; presenting " +
          "it again revokes every session of the user.",
        description:
          "Refresh tokens are single use. Throttled per IP (THROTTLE_REFRESH_IP) and per account " +
          "(THROTTLE_REFRESH_ACCOUNT).",
        body: RefreshBody,
        response: {
          200: described("A new token pair; the refresh token sent is blacklisted.", Tokens),
          ...errorResponses(
            failures.any,
            failures.jsonBody,
            failures.fields,
            [
              {
                status: 401,
                shape: Unauthorized,
                when: "The refresh token is invalid, expired or already used (`token_not_valid`).",
              },
            ],
            failures.throttled,
            failures.database,
          ),
        },
      },
      onRequest: byIp(limit.refreshIp),
      preHandler: async (request) => {
        const userId = await refreshTokenUser(deps.config, request.body.refresh);
        if (userId) await limit.refreshAccount(request, userId);
      },
    },
    async (request) =>
      rotateRefreshToken(
        deps.db,
        deps.config,
        request.body.refresh,
        clientOf(request),
        deps.claimOf,
      ),
  );

  const profileSchema = { ...base, security: bearer };
  app.get(
    "/api/auth/profile/",
    {
      schema: {
        ...profileSchema,
        operationId: "auth_profile_read",
        summary: "The signed-in user.",
        description:
          '`subscription_status` is the current subscription\'s status, or "inactive" without one.',
        response: {
          200: described("The signed-in user.", User),
          ...errorResponses(failures.any, failures.auth, failures.database),
        },
      },
      preValidation: auth,
    },
    // The row authentication loaded for this request: no second read.
    async (request) => userBody(deps, requireUser(request)),
  );

  for (const [method, body] of [
    ["PATCH", ProfilePatchBody],
    ["PUT", ProfilePutBody],
  ] as const) {
    app.route({
      method,
      url: "/api/auth/profile/",
      schema: {
        ...profileSchema,
        operationId: `auth_profile_${method.toLowerCase()}`,
        summary: `Update username and names${method === "PUT" ? " (username required)" : ""}; email, id and status are read-only.`,
        description:
          method === "PUT"
            ? "The editable fields at once: `username` is required, the names optional."
            : "Changes only the fields sent. A taken username is a per-field error.",
        body,
        response: {
          200: described("The updated user.", User),
          ...errorResponses(
            failures.any,
            failures.jsonBody,
            failures.fields,
            failures.auth,
            failures.database,
          ),
        },
      },
      preValidation: auth,
      handler: async (request) =>
        updateProfile(deps, requireUser(request).id, request.body as ProfileChanges),
    });
  }

  app.post(
    "/api/auth/change-password/",
    {
      schema: {
        ...base,
        operationId: "auth_change_password",
        summary:
          "Change the password. Every refresh token of the user is revoked; the response carries a " +
          "fresh pair so this client stays signed in.",
        description:
          "The old password must match; the new one is checked like a registration's. Throttled " +
          "per IP (THROTTLE_CHANGE_PASSWORD_IP) and per account (THROTTLE_CHANGE_PASSWORD_ACCOUNT).",
        security: bearer,
        body: ChangePasswordBody,
        response: {
          200: described(
            "Password changed; a fresh token pair for this client.",
            ChangePasswordResult,
          ),
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
      onRequest: byIp(limit.changePasswordIp),
      preValidation: [
        auth,
        (request) => limit.changePasswordAccount(request, requireUser(request).id),
      ],
    },
    async (request) => {
      const tokens = await changePassword(
        deps,
        requireUser(request).id,
        request.body,
        clientOf(request),
      );
      return { message: "Password changed successfully.", tokens };
    },
  );

  registerSessionRoutes(app, deps, auth);
  registerLifecycleRoutes(app, deps, appDeps, throttle, auth);
}
