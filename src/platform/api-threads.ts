import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import type { LogLines } from "./line-log.ts";
import { stopOnSignals } from "./process.ts";

export interface ApiThreadsOptions {
  threads: number;
  /** The module each API thread runs (src/main.ts, or its bundle: api-bundle.ts), once ready. */
  entry: URL | Promise<URL>;
  shutdownTimeoutSeconds: number;
  /** Runs once, before any thread starts (the migrations), while `entry` is made ready. */
  prepare(): Promise<void>;
}

/** What the supervisor sends an API thread when the process is asked to stop. */
const STOP = "stop";

/**
 * `WEB_CONCURRENCY` API threads in one process, each listening on the same port with SO_REUSEPORT
 * (the kernel spreads new connections over them). The main thread only supervises: it starts them,
 * replaces one that dies, and on SIGTERM/SIGINT asks each to drain and waits, bounded, for them to
 * exit. Threads rather than node:cluster's processes because every process carries its own copy
 * of Node's binary and runtime (about 50 MiB of RSS) and a cluster adds a primary process: one
 * process of N threads is N - 1 binaries and a primary lighter (docs/performance.md, "The API
 * tier's memory"). Each thread is still its own isolate, heap and event loop; what they share is
 * the process, so a crash of Node itself (not an exception) stops all of them.
 */
export async function superviseApiThreads(
  logger: LogLines,
  options: ApiThreadsOptions,
): Promise<void> {
  const [entry] = await Promise.all([options.entry, options.prepare()]);
  let stopping = false;
  const threads = new Set<Worker>();
  const start = (): void => {
    const thread = new Worker(entry, {
      // Migrations already ran; N threads migrating at once would only race.
      env: { ...process.env, MIGRATE_ON_START: "false" },
      workerData: { apiThread: true },
    });
    threads.add(thread);
    const id = thread.threadId;
    // An exception nothing caught ends the thread; unhandled here it would end the process.
    thread.on("error", (err) => logger.error({ thread: id, err }, "API thread failed"));
    thread.once("exit", (code) => {
      threads.delete(thread);
      if (stopping) return;
      logger.error({ thread: id, code }, "API thread died; starting a replacement");
      // A short pause keeps a thread that fails at start from spinning the CPU.
      setTimeout(() => {
        if (!stopping) start();
      }, 1000).unref();
    });
  };
  for (let i = 0; i < options.threads; i++) start();
  logger.info({ threads: options.threads }, "API threads started");

  // Asks every thread to drain and exits once all have, bounded like a single process's drain
  // plus a margin for the threads' own.
  stopOnSignals(logger, options.shutdownTimeoutSeconds + 3, async () => {
    stopping = true;
    const exits = [...threads].map(
      (thread) => new Promise<void>((resolve) => thread.once("exit", () => resolve())),
    );
    for (const thread of threads) thread.postMessage(STOP);
    await Promise.all(exits);
  });
}

/** Whether this thread is one of superviseApiThreads' API threads. */
export const isApiThread = (): boolean =>
  !isMainThread && (workerData as { apiThread?: boolean } | null)?.apiThread === true;

/** Whether this is the main thread of a process that runs `threads` API threads. */
export const isSupervisor = (threads: number): boolean => threads > 1 && isMainThread;

/** In an API thread, runs `stop` when the supervisor asks it to. */
export function onStopRequest(stop: (signal: NodeJS.Signals) => void): void {
  parentPort?.on("message", (message) => {
    if (message === STOP) stop("SIGTERM");
  });
}
