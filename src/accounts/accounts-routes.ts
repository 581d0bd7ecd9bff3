import type { FastifyRequest } from "fastify";
import type { AppDeps } from "../platform/feature.ts";
import { described } from "../platform/http/openapi.ts";
import { clientKey, type Limiter, type Throttle } from "../platform/http/throttle.ts";
import type { App } from "../platform/http/types.ts";
import {
  AuthResult,
  ChangePasswordBody,
  ChangePasswordResult,
  ErrorMessage,
  FieldErrors,
  LoginBody,
  LogoutBody,
  Message,
  ProfilePatchBody,
  ProfilePutBody,
  RefreshBody,
  RegisterBody,
  Throttled,
  Tokens,
  Unauthorized,
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
import { loginThrottle } from "./login-throttle.ts";
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
        body: RegisterBody,
        response: {
          201: described("Registered and signed in: the new user and a token pair.", AuthResult),
          400: FieldErrors,
          429: Throttled,
        },
      },
      onRequest: byIp(limit.registerIp),
    },
    async (request, reply) => {
      const result = await register(deps, request.body);
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
        body: LoginBody,
        response: {
          200: described("Signed in: the user and a token pair.", AuthResult),
          400: FieldErrors,
          429: Throttled,
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
    async (request) => ({ message: "Login successful.", ...(await login(deps, request.body)) }),
  );

  app.post(
    "/api/auth/logout/",
    {
      schema: {
        ...base,
        operationId: "auth_logout",
        summary: "Blacklist the caller's own refresh token.",
        security: bearer,
        body: LogoutBody,
        response: {
          200: described("Logged out: the refresh token is blacklisted.", Message),
          400: ErrorMessage,
          401: Unauthorized,
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
        body: RefreshBody,
        response: {
          200: described("A new token pair; the refresh token sent is blacklisted.", Tokens),
          400: FieldErrors,
          401: Unauthorized,
          429: Throttled,
        },
      },
      onRequest: byIp(limit.refreshIp),
      preHandler: async (request) => {
        const userId = await refreshTokenUser(deps.config, request.body.refresh);
        if (userId) await limit.refreshAccount(request, userId);
      },
    },
    async (request) => rotateRefreshToken(deps.db, deps.config, request.body.refresh),
  );

  const profileSchema = { ...base, security: bearer };
  app.get(
    "/api/auth/profile/",
    {
      schema: {
        ...profileSchema,
        operationId: "auth_profile_read",
        summary: "The signed-in user.",
        response: { 200: User, 401: Unauthorized },
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
        body,
        response: { 200: User, 400: FieldErrors, 401: Unauthorized },
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
        security: bearer,
        body: ChangePasswordBody,
        response: {
          200: described(
            "Password changed; a fresh token pair for this client.",
            ChangePasswordResult,
          ),
          400: FieldErrors,
          401: Unauthorized,
          429: Throttled,
        },
      },
      onRequest: byIp(limit.changePasswordIp),
      preValidation: [
        auth,
        (request) => limit.changePasswordAccount(request, requireUser(request).id),
      ],
    },
    async (request) => {
      const tokens = await changePassword(deps, requireUser(request).id, request.body);
      return { message: "Password changed successfully.", tokens };
    },
  );
}
