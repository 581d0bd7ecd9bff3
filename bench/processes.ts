import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, openSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../", import.meta.url));

export interface Proc {
  child: ChildProcess;
  pid: number;
  stop(): Promise<void>;
}

/** A free loopback port (bound once and released: good enough for a benchmark run). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts an entry point of the tree at `root` (this one by default) with Node 24 (the one running
 * the bench), the given environment on top of PATH/HOME, and its output appended to `logFile`, so
 * logging costs what it costs in production (a write to a file descriptor) and never competes
 * with the load generator for a pipe.
 */
export function startNode(
  entry: string,
  env: Record<string, string>,
  logFile: string,
  root = ROOT,
): Proc {
  const fd = openSync(logFile, "a");
  // A tree from before the module hooks (bench/ab.ts compares with older commits) runs without.
  const hooks = join(root, "src/platform/module-hooks.ts");
  const child = spawn(process.execPath, [join(root, entry)], {
    cwd: root,
    // Heap flags, module hooks, the compile cache and glibc's arenas as `npm start` and the Docker
    // image set them, so memory is measured as deployed.
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      NODE_OPTIONS: `--max-semi-space-size=4 --max-old-space-size=96${existsSync(hooks) ? ` --import=${hooks}` : ""}`,
      NODE_COMPILE_CACHE: join(root, "node_modules/.cache/node-compile"),
      MALLOC_ARENA_MAX: "2",
      ...env,
    },
    stdio: ["ignore", fd, fd],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    pid: child.pid ?? 0,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * The environment the benches start the API with (`src/main.ts`): loopback, `database` (a
 * DATABASE_URL, or DATA_DIR for PGlite), `processes` API processes that work no jobs, the Stripe
 * emulator at `stripeApiBase`, and the login throttles raised: the login benchmark signs the same
 * few thousand accounts in over and over.
 */
export function apiEnv(options: {
  port: number;
  database: { DATABASE_URL: string } | { DATA_DIR: string };
  processes: number;
  secretKey: string;
  stripeApiBase: string;
  webhookSecret: string;
  logLevel?: string;
}): Record<string, string> {
  return {
    NODE_ENV: "development",
    HOST: "127.0.0.1",
    PORT: String(options.port),
    LOG_LEVEL: options.logLevel ?? "info",
    SECRET_KEY: options.secretKey,
    ...options.database,
    WEB_CONCURRENCY: String(options.processes),
    WORKER: "off",
    STRIPE_SECRET_KEY: "sk_test_bench",
    STRIPE_API_BASE: options.stripeApiBase,
    STRIPE_WEBHOOK_SECRET: options.webhookSecret,
    THROTTLE_LOGIN_IP: "10000000/min",
    THROTTLE_LOGIN_ACCOUNT: "10000000/min",
    // Every admin request is the one staff user's.
    THROTTLE_ADMIN: "10000000/min",
  };
}

/**
 * Waits until `logFile` holds `count` lines matching `pattern` (one "listening" line per cluster
 * process: polling a URL would keep reaching the first process that is up), then until `url`
 * answers 200.
 */
export async function waitReady(
  proc: Proc,
  logFile: string,
  pattern: RegExp,
  count: number,
  url: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const global = new RegExp(pattern.source, "g");
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`${entryOf(proc)} exited during start`);
    if (Date.now() > deadline) throw new Error(`${url} not ready after ${timeoutMs} ms`);
    const text = await readFile(logFile, "utf8").catch(() => "");
    if ((text.match(global)?.length ?? 0) >= count) {
      const ok = await fetch(url).then(
        async (res) => {
          await res.arrayBuffer();
          return res.ok;
        },
        () => false,
      );
      if (ok) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function entryOf(proc: Proc): string {
  return proc.child.spawnargs.slice(1).join(" ");
}
