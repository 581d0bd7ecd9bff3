import { randomUUID } from "node:crypto";
import { createSigner, createVerifier, TokenError } from "fast-jwt";
import type { Config } from "../config.ts";
import type { AccessClaim } from "../platform/feature.ts";

export type TokenConfig = Pick<
  Config,
  "SECRET_KEY" | "ACCESS_TOKEN_LIFETIME" | "REFRESH_TOKEN_LIFETIME"
>;

export type TokenType = "access" | "refresh";

/** simplejwt's claims, so tokens look as they did to existing clients. */
export interface TokenClaims {
  token_type: TokenType;
  user_id: string;
  jti: string;
  iat: number;
  exp: number;
  /** The session (refresh-token family, src/accounts/sessions.ts) the token belongs to. */
  sid?: string;
  /** Access tokens with ACCESS_CLAIMS=on: the access answer when it was signed (docs/access.md). */
  entitlements?: AccessClaim;
}

export interface IssuedToken {
  token: string;
  claims: TokenClaims;
}

/**
 * HMAC runs synchronously on the event loop (a few microseconds). jose's WebCrypto HMAC ran as a
 * libuv thread-pool job, where every authenticated request queued behind argon2 while logins ran.
 */
interface Codec {
  sign(claims: TokenClaims): string;
  verify(token: string): Record<string, unknown>;
}

const codecs = new Map<string, Codec>();
function codecOf(secret: string): Codec {
  let codec = codecs.get(secret);
  if (!codec) {
    codec = {
      // The claims carry iat and exp; the signer keeps them as given.
      sign: createSigner({ key: secret, algorithm: "HS256" }),
      verify: createVerifier({
        key: secret,
        algorithms: ["HS256"],
        requiredClaims: ["exp", "iat", "jti"],
      }),
    };
    codecs.set(secret, codec);
  }
  return codec;
}

export async function signToken(
  config: TokenConfig,
  type: TokenType,
  userId: string,
  sessionId?: string,
  entitlements?: AccessClaim,
): Promise<IssuedToken> {
  const now = new Date();
  const iat = Math.floor(now.getTime() / 1000);
  const lifetime = type === "access" ? config.ACCESS_TOKEN_LIFETIME : config.REFRESH_TOKEN_LIFETIME;
  const claims: TokenClaims = {
    token_type: type,
    user_id: userId,
    jti: randomUUID(),
    iat,
    exp: iat + lifetime,
    ...(sessionId ? { sid: sessionId } : {}),
    ...(entitlements ? { entitlements } : {}),
  };
  return { token: codecOf(config.SECRET_KEY).sign(claims), claims };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The claims of a token of `type` signed with our key and not expired, or undefined. Only HS256
 * is accepted, so `alg: none` and tokens signed for another algorithm are refused; an access token
 * is never accepted as a refresh token or the reverse.
 */
export async function verifyToken(
  config: Pick<Config, "SECRET_KEY">,
  token: string,
  type: TokenType,
): Promise<TokenClaims | undefined> {
  try {
    const payload = codecOf(config.SECRET_KEY).verify(token);
    const { token_type, user_id, jti, iat, exp, sid } = payload;
    if (token_type !== type) return undefined;
    if (typeof user_id !== "string" || !UUID.test(user_id)) return undefined;
    if (typeof jti !== "string" || !UUID.test(jti)) return undefined;
    if (typeof iat !== "number" || typeof exp !== "number") return undefined;
    // Tokens signed before sessions existed carry no `sid`.
    const session = typeof sid === "string" && UUID.test(sid) ? { sid } : {};
    return { token_type: type, user_id, jti, iat, exp, ...session };
  } catch (err) {
    if (err instanceof TokenError) return undefined;
    throw err;
  }
}
