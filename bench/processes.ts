import { type ChildProcess, spawn } from "node:child_process";
import { openSync } from "node:fs";
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
 * Starts an entry point with Node 24 (the one running the bench), the given environment on top
 * of PATH/HOME, and its output appended to `logFile`, so logging costs what it costs in production
 * (a write to a file descriptor) and never competes with the load generator for a pipe.
 */
export function startNode(entry: string, env: Record<string, string>, logFile: string): Proc {
  const fd = openSync(logFile, "a");
  const child = spawn(process.execPath, [join(ROOT, entry)], {
    cwd: ROOT,
    // Heap flags, module hooks and the compile cache as `npm start` and the Docker image set
    // them, so memory is measured as deployed.
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      NODE_OPTIONS: `--max-semi-space-size=8 --max-old-space-size=96 --import=${join(ROOT, "src/platform/module-hooks.ts")}`,
      NODE_COMPILE_CACHE: join(ROOT, "node_modules/.cache/node-compile"),
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
