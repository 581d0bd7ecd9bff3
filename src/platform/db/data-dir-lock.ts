import { randomBytes } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, relative } from "node:path";
import { StartupError } from "../startup-error.ts";

/**
 * The embedded database belongs to one process: PGlite keeps the database in its own memory and
 * writes its files back on its own schedule, so a second process on the same files sees none of
 * the first one's writes and overwrites them. The owner holds `lockFile`, which names
 * its PID.
 */
export class DataDirInUse extends StartupError {
  readonly dir: string;
  readonly pid: number;
  constructor(dir: string, pid: number) {
    super(
      `the embedded database in ${shown(dir)} is in use by process ${pid}: stop that process, or set DATABASE_URL to use PostgreSQL`,
    );
    this.dir = dir;
    this.pid = pid;
  }
}

/** The locks this process holds (its own PID in a lock it does not hold means a stale lock). */
const held = new Set<string>();

/**
 * Takes `lockFile` for this process, or throws DataDirInUse naming the live process that holds
 * it. A lock whose process is gone (a crash, a kill -9) is taken over. Returns the release, which
 * removes the file if it is still ours; an exit without release leaves a lock the next opener
 * takes over.
 */
export function lockDataDir(lockFile: string, dir: string): () => void {
  if (held.has(lockFile)) throw new DataDirInUse(dir, process.pid);
  mkdirSync(dirname(lockFile), { recursive: true });
  // Written whole under a private name, then linked into place: a reader never sees an empty or
  // half-written lock, and link() fails if the lock exists, so two openers cannot both create it.
  const mine = `${lockFile}.${process.pid}.${randomBytes(4).toString("hex")}`;
  writeFileSync(mine, `${process.pid}\n`);
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(mine, lockFile);
        held.add(lockFile);
        const release = () => releaseIfOurs(lockFile);
        process.once("exit", release);
        return () => {
          process.off("exit", release);
          release();
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const owner = readOwner(lockFile);
      if (owner === undefined) continue;
      if (alive(owner)) throw new DataDirInUse(dir, owner);
      takeOverStale(lockFile, owner, dir);
    }
    throw new StartupError(`could not take the lock ${lockFile}: other processes keep taking it`);
  } finally {
    unlinkSync(mine);
  }
}

/**
 * Removes a dead owner's lock. It is first moved to a private name, which only one of several
 * openers racing to take it over can do; if what was moved is no longer the dead owner's (another
 * opener took the lock over in between), it is put back and that opener wins.
 */
function takeOverStale(lockFile: string, deadOwner: number, dir: string): void {
  const moved = `${lockFile}.stale.${process.pid}.${randomBytes(4).toString("hex")}`;
  try {
    renameSync(lockFile, moved);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  const owner = readOwner(moved);
  if (owner !== deadOwner && owner !== undefined && alive(owner)) {
    try {
      linkSync(moved, lockFile);
    } finally {
      unlinkSync(moved);
    }
    throw new DataDirInUse(dir, owner);
  }
  unlinkSync(moved);
}

function readOwner(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, "utf8"), 10);
    // A file that names no process is nobody's lock: pid 0 stands for "dead".
    return Number.isSafeInteger(pid) && pid > 0 ? pid : 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/**
 * Whether process `pid` exists (signal 0 checks without sending anything; EPERM means it exists
 * under another user). Our own PID in a lock we do not hold yet is a previous run of a container
 * whose process numbers start over: dead.
 */
function alive(pid: number): boolean {
  if (pid === 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function releaseIfOurs(lockFile: string): void {
  held.delete(lockFile);
  if (readOwner(lockFile) !== process.pid) return;
  try {
    unlinkSync(lockFile);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

function shown(dir: string): string {
  const path = relative(process.cwd(), dir);
  return path && !path.startsWith("..") ? `./${path}` : dir;
}
