import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { App } from "../../src/app.ts";
import { startTestApp, type TestApp, type TestAppOptions } from "../helpers/app.ts";

/**
 * The real app for accounts tests: cheap argon2 parameters (production defaults are OWASP's) and
 * limits high enough that only the throttling tests meet them.
 */
export const FAST_ENV: Record<string, string> = {
  PASSWORD_HASH_MEMORY_KIB: "1024",
  PASSWORD_HASH_ITERATIONS: "1",
  THROTTLE_LOGIN_IP: "10000/min",
  THROTTLE_LOGIN_ACCOUNT: "10000/min",
  THROTTLE_LOGIN_ACCOUNT_TOTAL: "10000/min",
  THROTTLE_REGISTER_IP: "10000/min",
  THROTTLE_REFRESH_IP: "10000/min",
  THROTTLE_REFRESH_ACCOUNT: "10000/min",
  THROTTLE_CHANGE_PASSWORD_IP: "10000/min",
  THROTTLE_CHANGE_PASSWORD_ACCOUNT: "10000/min",
};

export function startAccountsApp(options: TestAppOptions = {}): Promise<TestApp> {
  return startTestApp({ ...options, env: { ...FAST_ENV, ...options.env } });
}

export function uniqueName(prefix = "user"): string {
  return `${prefix}_${randomBytes(5).toString("hex")}`;
}

export const PASSWORD = "Correct-Horse-77";

export interface Registered {
  id: string;
  email: string;
  username: string;
  password: string;
  access: string;
  refresh: string;
}

export async function registerUser(
  app: App,
  overrides: Record<string, unknown> = {},
): Promise<Registered> {
  const username = uniqueName();
  const body = {
    email: `${username}@Example.com`,
    username,
    first_name: "Ada",
    last_name: "Lovelace",
    password: PASSWORD,
    password_confirm: PASSWORD,
    ...overrides,
  };
  const res = await app.inject({ method: "POST", url: "/api/auth/register/", payload: body });
  assert.equal(res.statusCode, 201, res.body);
  const json = res.json();
  return {
    id: json.user.id,
    email: String(body.email),
    username: String(body.username),
    password: String(body.password),
    access: json.tokens.access,
    refresh: json.tokens.refresh,
  };
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
