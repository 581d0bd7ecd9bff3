// The API's V8 settings, so both sides run the same V8 (src/platform/v8-flags.ts).
import "../src/platform/v8-flags.ts";
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { isMainThread, Worker } from "node:worker_threads";
import { verify } from "@node-rs/argon2";
import { createSigner, createVerifier } from "fast-jwt";
import pg from "pg";
import { accessPolicy } from "../src/billing/access-policy.ts";
import { formatMinor } from "../src/billing/money.ts";
import { adminRoutes } from "./baseline-admin.ts";

/**
 * The baseline the benchmark compares the API with: a bare `node:http` server doing the same JWT
 * verification (fast-jwt, HS256) and the same SQL through `pg`, and nothing else: no framework, no
 * validation, no serializer, no logging, no security headers, no metrics. Run as
 * `node bench/baseline.ts` with BASELINE_PORT, DATABASE_URL, SECRET_KEY, WEBHOOK_SECRET and
 * WEB_CONCURRENCY; above 1 it runs that many threads sharing the port with SO_REUSEPORT, as the
 * API does (src/platform/api-threads.ts), so both have the same threads in one process.
 *
 * The webhook intake inserts its job into a plain table (`bench_baseline_jobs`) instead of
 * pg-boss's partitioned job table, so the baseline is a lower bound on what intake costs.
 */

const env = process.env;
const PORT = Number(env.BASELINE_PORT ?? 8100);
const threads = Number(env.WEB_CONCURRENCY ?? 1);

if (isMainThread && threads > 1) {
  for (let i = 0; i < threads; i++) new Worker(new URL(import.meta.url));
  process.on("SIGTERM", () => process.exit(0));
} else {
  serve();
}

function serve(): void {
  const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: 10 });
  pool.on("error", () => {});
  const secret = env.SECRET_KEY ?? "";
  const verifyJwt = createVerifier({
    key: secret,
    algorithms: ["HS256"],
    requiredClaims: ["exp", "iat", "jti"],
  });
  const signJwt = createSigner({ key: secret, algorithm: "HS256" });
  const webhookSecret = env.WEBHOOK_SECRET ?? "";

  const send = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
    res.end(text);
  };

  const userOf = async (req: IncomingMessage) => {
    const token = (req.headers.authorization ?? "").slice(7);
    try {
      const payload = verifyJwt(token);
      if (payload.token_type !== "access") return undefined;
      const { rows } = await pool.query(
        "select id, email, username, first_name, last_name, is_active, is_staff, is_superuser, stripe_customer_id, created_at from users where id = $1",
        [payload.user_id],
      );
      return rows[0]?.is_active ? rows[0] : undefined;
    } catch {
      return undefined;
    }
  };

  const currentSubscription = async (userId: string) => {
    const { rows } = await pool.query(
      "select * from subscriptions where user_id = $1 and (started = true or status = 'incomplete') order by ended, stripe_created_at desc, seq desc limit 1",
      [userId],
    );
    return rows[0];
  };

  const readBody = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };

  const userBody = async (user: Record<string, unknown>) => ({
    id: user.id,
    email: user.email,
    username: user.username,
    first_name: user.first_name,
    last_name: user.last_name,
    subscription_status: (await currentSubscription(String(user.id)))?.status ?? "inactive",
    created_at: user.created_at,
  });

  /** Where status's row holds the columns the pending change depends on (the first `id` is s.id). */
  const subscriptionColumns = (names: string[]) => ({
    id: names.indexOf("id"),
    schedule: names.indexOf("stripe_schedule_id"),
    endedAt: names.indexOf("ended_at"),
    cancelAtPeriodEnd: names.indexOf("cancel_at_period_end"),
    cancelAt: names.indexOf("cancel_at"),
  });
  let columns: ReturnType<typeof subscriptionColumns> | undefined;

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>> = {
    "GET /readyz": async (_req, res) => {
      await pool.query("select 1");
      send(res, 200, { status: "ok" });
    },
    "GET /api/subscriptions/status/": async (req, res) => {
      const user = await userOf(req);
      if (!user) return send(res, 401, { detail: "Authentication credentials were not provided." });
      // The subscription and its plan in one query, as the app asks (Drizzle reads a join's
      // columns as arrays too).
      const { rows, fields } = await pool.query({
        text: "select s.*, p.* from subscriptions s left join plans p on p.id = s.plan_id where s.user_id = $1 and (s.started = true or s.status = 'incomplete') order by s.ended, s.stripe_created_at desc, s.seq desc limit 1",
        values: [user.id],
        rowMode: "array",
      });
      const sub = rows[0];
      if (!sub) return send(res, 200, { status: "inactive", is_active: false, plan: null });
      // A change scheduled for the period end, read as the app reads it: only while the
      // subscription still has its schedule and no end or cancellation.
      columns ??= subscriptionColumns(fields.map((f) => f.name));
      const c = columns;
      let pending = null;
      if (sub[c.schedule] && !sub[c.endedAt] && !sub[c.cancelAtPeriodEnd] && !sub[c.cancelAt]) {
        const { rows: changes } = await pool.query({
          text: "select c.*, p.* from subscription_changes c inner join plans p on p.id = c.plan_id where c.subscription_id = $1 and c.status = 'scheduled'",
          values: [sub[c.id]],
          rowMode: "array",
        });
        pending = changes[0] ?? null;
      }
      send(res, 200, { subscription: sub, pending_change: pending });
    },
    // The same two queries as the app (the second only when past due) and the app's own policy
    // function: what is measured is everything around them.
    "GET /api/subscriptions/access/": async (req, res) => {
      const user = await userOf(req);
      if (!user) return send(res, 401, { detail: "Authentication credentials were not provided." });
      const { rows } = await pool.query({
        // The plan as one value: its columns would shadow the subscription's (id, created_at).
        text: "select s.*, to_jsonb(p) as plan from subscriptions s left join plans p on p.id = s.plan_id where s.user_id = $1 and (s.started = true or s.status = 'incomplete') order by s.ended, s.stripe_created_at desc, s.seq desc limit 1",
        values: [user.id],
      });
      const sub = rows[0];
      let firstFailureAt: Date | null = null;
      if (sub?.status === "past_due") {
        const failed = await pool.query(
          "select min(occurred_at) as at from payments where subscription_id = $1 and status = 'failed' and occurred_at > coalesce((select max(p.occurred_at) from payments p where p.subscription_id = $1 and p.status = 'succeeded'), '-infinity'::timestamptz)",
          [sub.id],
        );
        firstFailureAt = failed.rows[0]?.at ?? null;
      }
      const answer = accessPolicy(
        sub
          ? {
              status: sub.status,
              cancelAtPeriodEnd: sub.cancel_at_period_end,
              cancelAt: sub.cancel_at,
              currentPeriodStart: sub.current_period_start,
              currentPeriodEnd: sub.current_period_end,
              createdAt: sub.stripe_created_at,
              firstFailureAt,
            }
          : null,
        { gracePastDue: 7 * 86_400, graceIncomplete: 0 },
        new Date(),
      );
      send(res, 200, {
        ...answer,
        plan: sub?.plan ?? null,
        entitlements: answer.allowed ? (sub?.plan?.entitlements ?? {}) : {},
      });
    },
    "GET /api/subscriptions/plans/": async (req, res) => {
      const user = await userOf(req);
      if (!user) return send(res, 401, { detail: "Authentication credentials were not provided." });
      // The page and the count in one query, as the app asks.
      const { rows } = await pool.query(
        "select *, count(*) over () as total from plans where is_active = true order by amount, name, id limit 20 offset 0",
      );
      send(res, 200, {
        count: Number(rows[0]?.total ?? 0),
        next: null,
        previous: null,
        results: rows,
      });
    },
    // The app's query (the page and its count in one, the count alone for a page past the end)
    // and its body, amounts formatted by the app's own function.
    "GET /api/subscriptions/invoices/": async (req, res) => {
      const user = await userOf(req);
      if (!user) return send(res, 401, { detail: "Authentication credentials were not provided." });
      const visible = "user_id = $1 and status <> 'draft'";
      const { rows } = await pool.query(
        `select *, count(*) over () as full_count from invoices where ${visible} order by stripe_created_at desc, id desc limit 20 offset 0`,
        [user.id],
      );
      const counted = rows[0]
        ? [{ n: Number(rows[0].full_count) }]
        : (await pool.query(`select count(*)::int as n from invoices where ${visible}`, [user.id]))
            .rows;
      const iso = (d: Date | null) => d?.toISOString() ?? null;
      send(res, 200, {
        count: counted[0]?.n ?? 0,
        next: null,
        previous: null,
        results: rows.map((row) => {
          const money = (amount: string | number) => formatMinor(Number(amount), row.currency);
          return {
            id: row.stripe_invoice_id,
            number: row.number,
            status: row.status,
            billing_reason: row.billing_reason,
            total: money(row.total),
            amount_due: money(row.amount_due),
            amount_paid: money(row.amount_paid),
            amount_remaining: money(row.amount_remaining),
            currency: row.currency,
            period_start: iso(row.period_start),
            period_end: iso(row.period_end),
            lines: row.lines.map((line: { amount: number }) => ({
              ...line,
              amount: formatMinor(line.amount, row.currency),
            })),
            hosted_invoice_url: row.hosted_invoice_url,
            invoice_pdf: row.invoice_pdf,
            created_at: row.stripe_created_at.toISOString(),
          };
        }),
      });
    },
    // The app's two queries, run at once as it runs them, and its body.
    "GET /api/subscriptions/history/": async (req, res) => {
      const user = await userOf(req);
      if (!user) return send(res, 401, { detail: "Authentication credentials were not provided." });
      const [{ rows }, { rows: counted }] = await Promise.all([
        pool.query(
          "select * from audit_log where user_id = $1 order by id desc limit 20 offset 0",
          [user.id],
        ),
        pool.query("select count(*)::int as n from audit_log where user_id = $1", [user.id]),
      ]);
      send(res, 200, {
        count: counted[0]?.n ?? 0,
        next: null,
        previous: null,
        results: rows.map((row) => {
          const own = row.actor_kind === "user" && row.actor_id === user.id;
          return {
            id: Number(row.id),
            kind: row.kind,
            subject_id: row.subject_id,
            actor: { kind: row.actor_kind, id: row.actor_kind === "admin" ? null : row.actor_id },
            request_id: own ? row.request_id : null,
            reason: row.reason,
            before: row.before,
            after: row.after,
            created_at: row.created_at.toISOString(),
          };
        }),
      });
    },
    "GET /api/auth/profile/": async (req, res) => {
      const user = await userOf(req);
      if (!user) return send(res, 401, { detail: "Authentication credentials were not provided." });
      send(res, 200, await userBody(user));
    },
    "POST /api/auth/login/": async (req, res) => {
      const { email, password } = JSON.parse((await readBody(req)).toString());
      const { rows } = await pool.query(
        "select id, password_hash, is_active from users where lower(email) = $1",
        [String(email).toLowerCase()],
      );
      const row = rows[0];
      if (!row || !(await verify(row.password_hash, String(password)))) {
        return send(res, 400, { non_field_errors: ["Invalid email or password."] });
      }
      const sign = (type: string, lifetime: number) => {
        const iat = Math.floor(Date.now() / 1000);
        const jti = randomUUID();
        const claims = { token_type: type, user_id: row.id, jti, iat, exp: iat + lifetime };
        return signJwt(claims);
      };
      const client = await pool.connect();
      let user: Record<string, unknown>;
      let tokens: { access: string; refresh: string };
      try {
        await client.query("begin");
        const updated = await client.query(
          "update users set last_login = now() where id = $1 returning id, email, username, first_name, last_name, created_at",
          [row.id],
        );
        tokens = { access: await sign("access", 3600), refresh: await sign("refresh", 604800) };
        await client.query(
          "insert into refresh_tokens (jti, user_id, expires_at) values ($1, $2, now() + interval '7 days')",
          [randomUUID(), row.id],
        );
        await client.query("commit");
        user = updated.rows[0];
      } finally {
        client.release();
      }
      send(res, 200, { message: "Login successful.", user: await userBody(user), tokens });
    },
    "POST /api/webhooks/stripe/": async (req, res) => {
      const raw = await readBody(req);
      const header = String(req.headers["stripe-signature"] ?? "");
      const t = /t=(\d+)/.exec(header)?.[1] ?? "";
      const v1 = /v1=([0-9a-f]+)/.exec(header)?.[1] ?? "";
      const expected = createHmac("sha256", webhookSecret).update(`${t}.${raw}`).digest();
      const given = Buffer.from(v1, "hex");
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return send(res, 400, { error: "Invalid signature." });
      }
      const event = JSON.parse(raw.toString());
      const client = await pool.connect();
      try {
        await client.query("begin");
        const inserted = await client.query(
          "insert into stripe_events (id, type, created, api_version, payload) values ($1, $2, to_timestamp($3), $4, $5) on conflict do nothing returning id",
          [event.id, event.type, event.created, event.api_version, event],
        );
        if (inserted.rows[0]) {
          await client.query(
            "insert into bench_baseline_jobs (id, name, data, singleton_key) values ($1, 'webhooks.process', $2, $3) on conflict do nothing",
            [randomUUID(), { eventId: event.id }, event.id],
          );
        }
        await client.query("commit");
        send(res, 200, { received: true, duplicate: !inserted.rows[0] });
      } finally {
        client.release();
      }
    },
    ...adminRoutes(pool, userOf, send),
  };

  createServer((req, res) => {
    const route = routes[`${req.method} ${req.url?.split("?")[0]}`];
    if (!route) return send(res, 404, { detail: "Not found." });
    route(req, res).catch(() => send(res, 500, { detail: "Internal server error." }));
  }).listen({ port: PORT, host: "127.0.0.1", reusePort: !isMainThread }, () =>
    console.log(`baseline listening on ${PORT}`),
  );
}
