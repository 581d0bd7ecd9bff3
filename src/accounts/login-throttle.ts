import type { FastifyRequest } from "fastify";
import type { Config } from "../config.ts";
import { clientKey, type Throttle, throttled } from "../platform/http/throttle.ts";

export interface LoginThrottle {
  /** Before the password is checked: throws the 429 when this client may not try this account. */
  check(request: FastifyRequest, email: string): Promise<void>;
  /** After a wrong password (or an unknown email): counts the failure. */
  failed(request: FastifyRequest, email: string): Promise<void>;
}

/**
 * Login throttling that guessing cannot turn into a lockout of the account's owner.
 *
 * Failures are counted per (account, client) and per account; successes are not counted at all
 * (signing in often is not guessing).
 * - Per (account, client), THROTTLE_LOGIN_ACCOUNT: over it that client is refused for that account,
 *   even with the right password, so the guesser cannot tell a hit. No other client is affected:
 *   ten wrong passwords sent from anywhere else do not stop the owner.
 * - Per account, THROTTLE_LOGIN_ACCOUNT_TOTAL: once over it (someone guesses from many addresses),
 *   every client that has failed on the account within its own window is refused, and a client
 *   with no failures still gets its try. A distributed guesser is cut from THROTTLE_LOGIN_ACCOUNT
 *   guesses per address and window to one, while the owner, who has not been failing, signs in as
 *   usual. An owner who mistypes during such an attack waits out their own client's window (the
 *   Retry-After), as a guesser does.
 * The counters are read before the password check and a failure is counted after it, so
 * concurrent requests from one client can overshoot its limit by those in flight; the per-IP limit
 * (THROTTLE_LOGIN_IP), counted on arrival, bounds that.
 */
export function loginThrottle(
  throttle: Throttle,
  config: Pick<Config, "THROTTLE_LOGIN_ACCOUNT" | "THROTTLE_LOGIN_ACCOUNT_TOTAL">,
): LoginThrottle {
  const perClient = config.THROTTLE_LOGIN_ACCOUNT;
  const total = config.THROTTLE_LOGIN_ACCOUNT_TOTAL;
  const clientFailures = throttle.counter("login-failures-client", perClient.windowSeconds);
  const accountFailures = throttle.counter("login-failures-account", total.windowSeconds);
  // Emails are compared case-insensitively, as login does. The separator cannot be in an email.
  const account = (email: string) => email.toLowerCase();
  const pair = (request: FastifyRequest, email: string) =>
    `${account(email)} ${clientKey(request.ip)}`;
  return {
    async check(request, email) {
      const client = await clientFailures.peek(request, pair(request, email));
      if (client.count >= perClient.max) throw throttled(client.resetsIn);
      if (client.count === 0) return;
      const all = await accountFailures.peek(request, account(email));
      if (all.count >= total.max) throw throttled(Math.min(client.resetsIn, all.resetsIn));
    },
    async failed(request, email) {
      await clientFailures.hit(request, pair(request, email));
      await accountFailures.hit(request, account(email));
    },
  };
}
