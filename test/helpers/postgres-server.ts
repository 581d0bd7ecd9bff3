import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { chown, mkdtemp, rm } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort } from "./process.ts";
import { waitFor } from "./wait.ts";

const run = promisify(execFile);

/**
 * A private PostgreSQL server for tests that stop, kill or restart the database: initdb in a
 * temporary directory, its own loopback port, never the machine's shared server. PostgreSQL
 * refuses to run as root, so as root the server runs as the `postgres` system user.
 */
export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  url: string;
  port: number;
  /** Starts the server (again) on the same port and data directory; resolves once it answers. */
  start(): Promise<void>;
  /** Fast shutdown: open connections are cut, as in a failover. */
  stop(): Promise<void>;
  /** Stops the server and deletes its data directory. */
  destroy(): Promise<void>;
}

/** Where the PostgreSQL server binaries are: PATH, else Debian's versioned directory. */
export function postgresBinDir(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl"))) return dir;
  }
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const dir = join(root, v, "bin");
    if (existsSync(join(dir, "initdb"))) return dir;
  }
  return undefined;
}

async function systemUser(name: string): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const [uid, gid] = await Promise.all([run("id", ["-u", name]), run("id", ["-g", name])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

export async function startPostgresServer(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("PostgreSQL server binaries (initdb, pg_ctl) not found");
  const asRoot = userInfo().uid === 0;
  const owner = asRoot ? await systemUser("postgres") : undefined;
  if (asRoot && !owner) throw new Error("running as root needs a `postgres` system user");

  const dir = await mkdtemp(join(tmpdir(), "billing-pg-"));
  const data = join(dir, "data");
  if (owner) await chown(dir, owner.uid, owner.gid);
  const as = owner ? { uid: owner.uid, gid: owner.gid } : {};
  const exec = (file: string, args: string[]) =>
    run(join(bin, file), args, { ...as, cwd: dir, env: { PATH: process.env.PATH ?? "" } });

  await exec("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let child: ChildProcess | undefined;

  const answers = async () => {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.query("select 1");
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  };

  const server: PostgresServer = {
    url,
    port,
    async start() {
      // The server runs in the foreground of a child process, so it dies with the test run
      // even if the test never calls stop(). fsync off: the data is thrown away.
      child = spawn(
        join(bin, "postgres"),
        [
          "-D",
          data,
          "-p",
          String(port),
          "-h",
          "127.0.0.1",
          "-k",
          dir,
          "-c",
          "fsync=off",
          "-c",
          "max_connections=200",
        ],
        { ...as, cwd: dir, stdio: "ignore" },
      );
      await waitFor(answers, { what: `private PostgreSQL on port ${port}`, timeoutMs: 30_000 });
    },
    async stop() {
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((resolve) => child?.once("exit", resolve));
      // SIGINT is PostgreSQL's fast shutdown: sessions are cut, as in a failover.
      child.kill("SIGINT");
      await exited;
      child = undefined;
    },
    async destroy() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
