import { eq, getTableColumns, inArray, or, sql } from "drizzle-orm";
import { type Db, driverError, type Executor } from "../platform/db/client.ts";
import { prepared } from "../platform/db/prepared.ts";
import type { JobDeps, SubscriptionStatusOf } from "../platform/feature.ts";
import {
  AppError,
  type FieldErrors,
  fieldError,
  validationError,
} from "../platform/http/errors.ts";
import type { Jobs } from "../platform/jobs/jobs.ts";
import { sessions, users } from "./accounts-tables.ts";
import { queueWelcomeEmail, type VerificationConfig } from "./email-verification.ts";
import { queuePasswordChanged } from "./password-reset.ts";
import {
  dummyHash,
  type HashConfig,
  hashPassword,
  passwordProblems,
  verifyPassword,
} from "./passwords.ts";
import type { ClientInfo } from "./sessions.ts";
import {
  type ClaimOf,
  issueTokenPair,
  revokeAllRefreshTokens,
  type TokenPair,
} from "./token-service.ts";
import type { TokenConfig } from "./tokens.ts";
import { nameProblem, normalizeUsername, usernameFormatProblem } from "./user-fields.ts";

/** A user as other modules see it: never the password hash. */
export type User = Omit<typeof users.$inferSelect, "passwordHash">;

/** Until billing answers `subscription_status`, every user is "inactive". */
export const noSubscription: SubscriptionStatusOf = async () => "inactive";

export type AccountsConfig = TokenConfig & HashConfig & VerificationConfig;

export interface AccountsDeps {
  db: Db;
  config: AccountsConfig;
  jobs: Jobs<JobDeps>;
  subscriptionStatusOf: SubscriptionStatusOf;
  /** The access token's `entitlements` claim; present only with ACCESS_CLAIMS=on. */
  claimOf?: ClaimOf | undefined;
}

/** The public `user` shape (docs/architecture.md, 'The HTTP contract'). */
export interface UserBody {
  id: string;
  email: string;
  username: string;
  first_name: string;
  last_name: string;
  subscription_status: string;
  email_verified: boolean;
  created_at: string;
}

const { passwordHash: _hash, ...publicColumns } = getTableColumns(users);

export async function userBody(
  deps: Pick<AccountsDeps, "db" | "subscriptionStatusOf">,
  user: User,
): Promise<UserBody> {
  return {
    id: user.id,
    email: user.email,
    username: user.username,
    first_name: user.firstName,
    last_name: user.lastName,
    subscription_status: await deps.subscriptionStatusOf(deps.db, user.id),
    email_verified: user.emailVerifiedAt !== null,
    created_at: user.createdAt.toISOString(),
  };
}

export async function getUserById(executor: Executor, id: string): Promise<User | undefined> {
  // Every authenticated request runs this one.
  const query = prepared(executor, "user_by_id", (e) =>
    e
      .select(publicColumns)
      .from(users)
      .where(eq(users.id, sql.placeholder("id")))
      .prepare("user_by_id"),
  );
  const [user] = await query.execute({ id });
  return user;
}

/**
 * The user an access token names, and whether the token's session was ended: revoking a session
 * (sessions/{id}/, revoke-others, a reused refresh token, a password change) locks its access tokens
 * out at once, not when they expire. Logout does not: as with simplejwt, it blacklists the refresh
 * token and the access token lives out its lifetime (the original's clients may rely on that).
 * `sid` is null for tokens signed before sessions existed.
 */
export async function getSignedInUser(
  executor: Executor,
  id: string,
  sid: string | null,
): Promise<(User & { sessionEnded: boolean }) | undefined> {
  // Every authenticated request runs this one.
  const query = prepared(executor, "signed_in_user", (e) =>
    e
      .select({
        ...publicColumns,
        sessionEnded: sql<boolean>`exists (select 1 from ${sessions} where ${sessions.id} = ${sql.placeholder("sid")}::uuid and ${sessions.revokedAt} is not null and ${sessions.revokedReason} is distinct from 'logout')`,
      })
      .from(users)
      .where(eq(users.id, sql.placeholder("id")))
      .prepare("signed_in_user"),
  );
  const [user] = await query.execute({ id, sid });
  return user;
}

/** Email comparison is case-insensitive (the unique index is on lower(email)). */
export async function findUserByEmail(
  executor: Executor,
  email: string,
): Promise<User | undefined> {
  const [user] = await executor
    .select(publicColumns)
    .from(users)
    .where(eq(sql`lower(${users.email})`, email.toLowerCase()));
  return user;
}

/** The users with any of these ids, or linked to any of these Stripe customers. */
export async function findUsersByIdOrCustomer(
  executor: Executor,
  ids: string[],
  customerIds: string[],
): Promise<User[]> {
  if (ids.length === 0 && customerIds.length === 0) return [];
  return executor
    .select(publicColumns)
    .from(users)
    .where(or(inArray(users.id, ids), inArray(users.stripeCustomerId, customerIds)));
}

/**
 * Links the user to a Stripe customer. Answers the customer it replaced (`previous`, null for
 * none) when the link changed, undefined when it was this customer already (or no such user):
 * billing records a change in the audit trail. In a transaction, the row stays locked to its end.
 */
export async function setStripeCustomerId(
  executor: Executor,
  userId: string,
  customerId: string,
): Promise<{ previous: string | null } | undefined> {
  const [current] = await executor
    .select({ customerId: users.stripeCustomerId })
    .from(users)
    .where(eq(users.id, userId))
    .for("update");
  if (!current || current.customerId === customerId) return undefined;
  await executor
    .update(users)
    .set({ stripeCustomerId: customerId, updatedAt: new Date() })
    .where(eq(users.id, userId));
  return { previous: current.customerId };
}

/**
 * Activates or deactivates an account. Deactivation also revokes its refresh tokens; its access
 * tokens stop working at once because `authenticate` reads `is_active` on every request.
 */
export async function setUserActive(db: Db, userId: string, active: boolean): Promise<void> {
  await db.transaction(async (tx) => {
    await tx
      .update(users)
      .set({ isActive: active, updatedAt: new Date() })
      .where(eq(users.id, userId));
    if (!active) await revokeAllRefreshTokens(tx, userId, "deactivated");
  });
}

const EMAIL_TAKEN = "user with this email already exists.";
const USERNAME_TAKEN = "A user with that username already exists.";

function addError(errors: FieldErrors, field: string, message: string): void {
  const list = errors[field] ?? [];
  list.push(message);
  errors[field] = list;
}

/** `username` must be normalized already (normalizeUsername). */
async function usernameProblem(
  executor: Executor,
  username: string,
  exceptUserId?: string,
): Promise<string | undefined> {
  const problem = usernameFormatProblem(username);
  if (problem) return problem;
  const [taken] = await executor
    .select({ id: users.id })
    .from(users)
    .where(eq(users.username, username));
  return taken && taken.id !== exceptUserId ? USERNAME_TAKEN : undefined;
}

function addNameErrors(
  errors: FieldErrors,
  names: { first_name?: string | undefined; last_name?: string | undefined },
): void {
  for (const field of ["first_name", "last_name"] as const) {
    const value = names[field];
    const problem = value === undefined ? undefined : nameProblem(value);
    if (problem) addError(errors, field, problem);
  }
}

/** Postgres unique_violation: the name of the constraint/index it hit ("" when unnamed). */
function uniqueViolation(err: unknown): string | undefined {
  const driver = driverError(err);
  return driver?.code === "23505" ? (driver.constraint ?? "") : undefined;
}

export interface RegisterInput {
  email: string;
  username: string;
  first_name?: string | undefined;
  last_name?: string | undefined;
  password: string;
  password_confirm: string;
}

/**
 * Creates the account, its first token pair and the welcome email in one transaction. Field
 * problems are reported together; the confirmation mismatch only once the fields are valid (DRF's
 * order). A concurrent duplicate that slips past the checks still hits the unique indexes.
 */
export async function register(
  deps: AccountsDeps,
  input: RegisterInput,
  client?: ClientInfo,
): Promise<{ user: UserBody; tokens: TokenPair }> {
  const username = normalizeUsername(input.username);
  const errors: FieldErrors = {};
  if (await findUserByEmail(deps.db, input.email)) addError(errors, "email", EMAIL_TAKEN);
  const usernameError = await usernameProblem(deps.db, username);
  if (usernameError) addError(errors, "username", usernameError);
  addNameErrors(errors, input);
  const attributes = {
    email: input.email,
    username,
    firstName: input.first_name,
    lastName: input.last_name,
  };
  for (const problem of passwordProblems(input.password, attributes)) {
    addError(errors, "password", problem);
  }
  if (Object.keys(errors).length > 0) throw validationError(errors);
  if (input.password !== input.password_confirm) {
    throw fieldError("password_confirm", "Passwords do not match.");
  }
  const passwordHash = await hashPassword(input.password, deps.config);
  try {
    const { user, tokens } = await deps.db.transaction(async (tx) => {
      const [user] = await tx
        .insert(users)
        .values({
          email: input.email,
          username,
          firstName: input.first_name ?? "",
          lastName: input.last_name ?? "",
          passwordHash,
        })
        .returning(publicColumns);
      if (!user) throw new Error("insert returned no user");
      const tokens = await issueTokenPair(tx, deps.config, user.id, client, deps.claimOf);
      await queueWelcomeEmail(tx, deps, user);
      return { user, tokens };
    });
    return { user: await userBody(deps, user), tokens };
  } catch (err) {
    const constraint = uniqueViolation(err);
    if (constraint === undefined) throw err;
    if (constraint.includes("username")) throw fieldError("username", USERNAME_TAKEN);
    throw fieldError("email", EMAIL_TAKEN);
  }
}

/** Wrong password or unknown email: the one login failure the throttle counts. */
export class InvalidLoginError extends AppError {
  constructor() {
    super("invalid", "Invalid input.", {
      body: { kind: "fields", fields: { non_field_errors: ["Invalid email or password."] } },
    });
  }
}

/**
 * Signs a user in. An unknown email still costs one argon2 verification (against a dummy hash)
 * and gets the same message as a wrong password, so neither timing nor wording reveals which
 * emails have accounts. "Deactivated" is only said to someone who knows the password.
 */
export async function login(
  deps: AccountsDeps,
  input: { email: string; password: string },
  client?: ClientInfo,
): Promise<{ user: UserBody; tokens: TokenPair }> {
  const [row] = await deps.db
    .select({ id: users.id, passwordHash: users.passwordHash, isActive: users.isActive })
    .from(users)
    .where(eq(sql`lower(${users.email})`, input.email.toLowerCase()));
  const ok = await verifyPassword(
    row?.passwordHash ?? (await dummyHash(deps.config)),
    input.password,
    deps.config,
  );
  if (!row || !ok) throw new InvalidLoginError();
  if (!row.isActive) {
    throw validationError({ non_field_errors: ["This account has been deactivated."] });
  }
  const { user, tokens } = await deps.db.transaction(async (tx) => {
    const [user] = await tx
      .update(users)
      .set({ lastLogin: new Date() })
      .where(eq(users.id, row.id))
      .returning(publicColumns);
    if (!user) throw new Error("user vanished during login");
    return { user, tokens: await issueTokenPair(tx, deps.config, row.id, client, deps.claimOf) };
  });
  return { user: await userBody(deps, user), tokens };
}

export interface ProfileChanges {
  username?: string | undefined;
  first_name?: string | undefined;
  last_name?: string | undefined;
}

/** PATCH/PUT profile: only username and names change; email, id and status are read-only. */
export async function updateProfile(
  deps: AccountsDeps,
  userId: string,
  changes: ProfileChanges,
): Promise<UserBody> {
  const username = changes.username === undefined ? undefined : normalizeUsername(changes.username);
  const errors: FieldErrors = {};
  if (username !== undefined) {
    const problem = await usernameProblem(deps.db, username, userId);
    if (problem) addError(errors, "username", problem);
  }
  addNameErrors(errors, changes);
  if (Object.keys(errors).length > 0) throw validationError(errors);
  try {
    const [user] = await deps.db
      .update(users)
      .set({
        ...(username !== undefined ? { username } : {}),
        ...(changes.first_name !== undefined ? { firstName: changes.first_name } : {}),
        ...(changes.last_name !== undefined ? { lastName: changes.last_name } : {}),
        updatedAt: new Date(),
      })
      .where(eq(users.id, userId))
      .returning(publicColumns);
    if (!user) throw new Error("user vanished during profile update");
    return await userBody(deps, user);
  } catch (err) {
    if (uniqueViolation(err) === undefined) throw err;
    throw fieldError("username", USERNAME_TAKEN);
  }
}

export interface ChangePasswordInput {
  old_password: string;
  new_password: string;
  new_password_confirm: string;
}

/**
 * Changes the password and revokes every refresh token of the user, so a stolen session ends with
 * it. The caller gets a fresh pair to stay signed in on this device.
 */
export async function changePassword(
  deps: AccountsDeps,
  userId: string,
  input: ChangePasswordInput,
  client?: ClientInfo,
): Promise<TokenPair> {
  const [row] = await deps.db.select().from(users).where(eq(users.id, userId));
  if (!row) throw new Error("authenticated user not found");
  const errors: FieldErrors = {};
  if (!(await verifyPassword(row.passwordHash, input.old_password, deps.config))) {
    addError(errors, "old_password", "Current password is incorrect.");
  }
  for (const problem of passwordProblems(input.new_password, row)) {
    addError(errors, "new_password", problem);
  }
  if (Object.keys(errors).length > 0) throw validationError(errors);
  if (input.new_password !== input.new_password_confirm) {
    throw fieldError("new_password_confirm", "Passwords do not match.");
  }
  const passwordHash = await hashPassword(input.new_password, deps.config);
  return deps.db.transaction(async (tx) => {
    await tx.update(users).set({ passwordHash, updatedAt: new Date() }).where(eq(users.id, userId));
    await revokeAllRefreshTokens(tx, userId, "password_changed");
    await queuePasswordChanged(tx, deps, row);
    return issueTokenPair(tx, deps.config, userId, client, deps.claimOf);
  });
}

export interface NewSuperuser {
  email: string;
  username: string;
  password: string;
}

/** For the CLI: a staff superuser, with the same uniqueness and password rules as registration. */
export async function createSuperuser(
  deps: Pick<AccountsDeps, "db" | "config">,
  input: NewSuperuser,
): Promise<User> {
  const username = normalizeUsername(input.username);
  const errors: FieldErrors = {};
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(input.email)) {
    addError(errors, "email", "Enter a valid email address.");
  } else if (await findUserByEmail(deps.db, input.email)) addError(errors, "email", EMAIL_TAKEN);
  const usernameError = await usernameProblem(deps.db, username);
  if (usernameError) addError(errors, "username", usernameError);
  for (const problem of passwordProblems(input.password, { ...input, username })) {
    addError(errors, "password", problem);
  }
  if (Object.keys(errors).length > 0) throw validationError(errors);
  const passwordHash = await hashPassword(input.password, deps.config);
  const [user] = await deps.db
    .insert(users)
    .values({ ...input, username, passwordHash, isStaff: true, isSuperuser: true })
    .returning(publicColumns);
  if (!user) throw new Error("insert returned no user");
  return user;
}
