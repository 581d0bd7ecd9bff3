import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { emptyState, type State } from "./store.ts";

/**
 * Where an emulator keeps its state between runs: a file (`snapshotFile`, the standalone
 * emulator's `--snapshot`) or whatever its host provides (the app keeps the embedded emulator's
 * state in the database it serves, see src/billing/emulator-snapshot.ts).
 */
export interface SnapshotStore {
  /** The state last saved, as save() was given it; undefined when nothing was saved yet. */
  load(): Promise<string | undefined>;
  /** Replaces the saved state. Calls never overlap: the emulator waits for one before the next. */
  save(json: string): Promise<void>;
}

/** State from a saved snapshot: fields added since it was written start empty, not undefined. */
export function parseSnapshot(json: string): State {
  return { ...emptyState(), ...(JSON.parse(json) as Partial<State>) };
}

export function fileSnapshotStore(file: string): SnapshotStore {
  return {
    async load() {
      try {
        return readFileSync(file, "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw err;
      }
    },
    // Synchronous underneath, so the file is written before the request that changed the state is
    // answered. A temporary file renamed into place: a crash never leaves half a snapshot.
    async save(json) {
      mkdirSync(dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, json);
      renameSync(tmp, file);
    },
  };
}

/**
 * Saves the state after each change without ever running two saves at once: a change made while
 * a save runs is saved next, and several such changes once (the latest state). The emulator does
 * not wait for a save to answer a request: its host's database may be busy with the very
 * transaction that is waiting for that answer.
 */
export class SnapshotWriter {
  readonly #store: SnapshotStore;
  readonly #onError: (err: unknown) => void;
  #pending: string | undefined;
  #running: Promise<void> | undefined;

  constructor(store: SnapshotStore, onError: (err: unknown) => void) {
    this.#store = store;
    this.#onError = onError;
  }

  save(json: string): void {
    this.#pending = json;
    this.#running ??= this.#drain();
  }

  /** Resolves once every change made so far is saved (or its save failed and was reported). */
  async flushed(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #drain(): Promise<void> {
    while (this.#pending !== undefined) {
      const json = this.#pending;
      this.#pending = undefined;
      try {
        await this.#store.save(json);
      } catch (err) {
        this.#onError(err);
      }
    }
    this.#running = undefined;
  }
}
