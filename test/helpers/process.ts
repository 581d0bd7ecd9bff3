import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { type AddressInfo, createServer } from "node:net";
import { join } from "node:path";
import { after } from "node:test";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface Running {
  child: ChildProcess;
  /** Base URL once the server listens (from Fastify's "Server listening at" log line). */
  url: Promise<string>;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
}

// A test that fails before stopping its process would otherwise leave it running, and the test
// file (which holds the process's pipes) would never end.
const alive = new Set<ChildProcess>();
after(() => {
  for (const child of alive) child.kill("SIGKILL");
});

/**
 * Starts one of the entry points (`src/main.ts`, `src/worker.ts`) of the tree at `root` as a user
 * would (with the module hooks `npm start` and the image load), with exactly `env` (plus
 * PATH/HOME) and a working directory without a `.env`.
 */
export function startProcess(
  entry: string,
  env: Record<string, string>,
  cwd: string,
  root = ROOT,
): Running {
  const hooks = `--import=${join(root, "src/platform/module-hooks.ts")}`;
  const child = spawn(process.execPath, [hooks, join(root, entry)], {
    cwd,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let resolveUrl: (url: string) => void = () => {};
  let rejectUrl: (err: Error) => void = () => {};
  const url = new Promise<string>((resolve, reject) => {
    resolveUrl = resolve;
    rejectUrl = reject;
  });
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
    if (match?.[1]) resolveUrl(match[1]);
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  alive.add(child);
  const exited = new Promise<number | string>((resolve) => {
    child.on("exit", (code, signal) => {
      alive.delete(child);
      rejectUrl(new Error(`process exited (${code ?? signal}) before listening:\n${output}`));
      resolve(code ?? signal ?? -1);
    });
  });
  url.catch(() => {});
  return { child, url, output: () => output, exited };
}

/** Lines that look like a JavaScript stack trace. */
export function stackLines(text: string): string[] {
  return text.split("\n").filter((line) => /^\s+at .+[:(]/.test(line) || /\\n\s+at /.test(line));
}

/** A TCP port free right now on loopback, for a process that must be told its port up front. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `npm run cli -- <args>` in its own process, as an operator runs it next to the API. */
export async function runCli(
  args: string[],
  env: Record<string, string>,
  cwd: string,
): Promise<{ code: number; output: string }> {
  const child = spawn(
    process.execPath,
    [`--import=${join(ROOT, "src/platform/module-hooks.ts")}`, join(ROOT, "src/cli.ts"), ...args],
    { cwd, env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  const collect = (c: Buffer) => {
    output += c.toString();
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const [code] = await once(child, "exit");
  return { code: code as number, output };
}
