import { and, count, desc, eq, getTableColumns, ilike, or, type SQL, sql } from "drizzle-orm";
import type { Executor } from "../platform/db/client.ts";
import type { PageRequest } from "../platform/http/pagination.ts";
import type { User } from "./accounts-service.ts";
import { users } from "./accounts-tables.ts";

// Accounts' answers for the staff admin API (src/admin/) and the staff commands.

const { passwordHash: _hash, ...publicColumns } = getTableColumns(users);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `%`, `_` and `\` typed by staff match themselves, not any characters. */
const literal = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * What `search` finds: a part of the email, username, first or last name or full name (any case);
 * a Stripe customer id or a user id, exactly.
 */
function searchOf(search: string | undefined): SQL | undefined {
  const term = search?.trim();
  if (!term) return undefined;
  const like = `%${literal(term)}%`;
  return or(
    ilike(users.email, like),
    ilike(users.username, like),
    ilike(sql`${users.firstName} || ' ' || ${users.lastName}`, like),
    eq(users.stripeCustomerId, term),
    UUID.test(term) ? eq(users.id, term) : undefined,
  );
}

/** Users matching `search`, newest first. */
export async function searchUsers(
  db: Executor,
  search: string | undefined,
  page: PageRequest,
): Promise<{ count: number; users: User[] }> {
  const where = searchOf(search);
  const [total] = await db.select({ n: count() }).from(users).where(where);
  const rows = await db
    .select(publicColumns)
    .from(users)
    .where(where)
    .orderBy(desc(users.createdAt), desc(users.id))
    .limit(page.limit)
    .offset(page.offset);
  return { count: total?.n ?? 0, users: rows };
}

/**
 * Grants or revokes the admin scope (`users:grant-staff`, `users:revoke-staff`). Revoking clears
 * both flags, `is_superuser` included: either one grants the scope. Returns the user, or undefined
 * when no account has that email.
 */
export async function setStaff(
  db: Executor,
  email: string,
  staff: boolean,
): Promise<User | undefined> {
  const [user] = await db
    .update(users)
    .set({
      isStaff: staff,
      ...(staff ? {} : { isSuperuser: false }),
      updatedAt: new Date(),
    })
    .where(and(eq(sql`lower(${users.email})`, email.toLowerCase())))
    .returning(publicColumns);
  return user;
}
