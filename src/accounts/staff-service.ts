import { and, count, desc, eq, getTableColumns, ilike, or, type SQL, sql } from "drizzle-orm";
import type { Executor } from "../platform/db/client.ts";
import { filteredPage } from "../platform/db/prepared.ts";
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
function searchOf(search: string | undefined) {
  const term = search?.trim();
  if (!term) return { where: () => undefined, values: {} };
  // Placeholders, bound below: each shape of search is one prepared statement (prepared.ts).
  const like = sql.placeholder("like");
  const id = UUID.test(term);
  return {
    where: (): SQL | undefined =>
      or(
        ilike(users.email, like),
        ilike(users.username, like),
        ilike(sql`${users.firstName} || ' ' || ${users.lastName}`, like),
        eq(users.stripeCustomerId, sql.placeholder("term")),
        id ? eq(users.id, sql.placeholder("id")) : undefined,
      ),
    values: { like: `%${literal(term)}%`, term, id: id ? term : undefined },
  };
}

/** Users matching `search`, newest first. */
export async function searchUsers(
  db: Executor,
  search: string | undefined,
  page: PageRequest,
): Promise<{ count: number; users: User[] }> {
  const { where, values } = searchOf(search);
  const { count: total, rows } = await filteredPage(db, "staff_users", values, page, {
    count: (e, name) => e.select({ n: count() }).from(users).where(where()).prepare(name),
    rows: (e, name) =>
      e
        .select(publicColumns)
        .from(users)
        .where(where())
        .orderBy(desc(users.createdAt), desc(users.id))
        .limit(sql.placeholder("limit"))
        .offset(sql.placeholder("offset"))
        .prepare(name),
  });
  return { count: total, users: rows };
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
