import type { Exchange, Reply, Stage } from "./server.ts";

/**
 * Fault injection as one more pipeline stage (`startStripeEmulator({ stages: [faults.stage] })`):
 * the next `times` calls matching a rule answer 500 `api_error`, 429 `rate_limit` or are delayed
 * by `delayMs` before being served (a slow Stripe; with a client timeout below the delay it is a
 * timeout). Every `/v1` call is recorded with its Idempotency-Key, so a test can check that a
 * retried write reused its key, and each rule counts the calls it faulted, so a test can check
 * that what it injected happened rather than pass on a run that never met the fault.
 */
export interface FaultRule {
  /** "POST", "GET", …; any method when unset. */
  method?: string;
  /** Matched against the path, e.g. /^\/v1\/subscriptions$/. */
  path: RegExp;
  fault: "500" | "429" | "delay";
  /** How many matching calls to fault (default 1). */
  times?: number;
  delayMs?: number;
}

export interface RecordedCall {
  method: string;
  path: string;
  idempotencyKey: string | undefined;
  /** The fault injected, or undefined when the call was served normally. */
  fault: FaultRule["fault"] | undefined;
}

/** A rule once injected. */
export interface InjectedFault {
  /** How many calls this rule has faulted so far (at most its `times`). */
  readonly fired: number;
}

export interface Faults {
  stage: Stage;
  inject(rule: FaultRule): InjectedFault;
  calls: RecordedCall[];
  /** Forgets the pending rules and the recorded calls. */
  clear(): void;
}

const ERRORS = {
  "500": {
    status: 500,
    body: { error: { type: "api_error", message: "Injected fault: internal error." } },
  },
  "429": {
    status: 429,
    body: {
      error: {
        type: "invalid_request_error",
        code: "rate_limit",
        message: "Injected fault: too many requests.",
      },
    },
  },
} as const;

export function createFaults(): Faults {
  const rules: { rule: FaultRule; left: number; fired: number }[] = [];
  const calls: RecordedCall[] = [];
  const match = (ex: Exchange) =>
    rules.find(
      (r) =>
        r.left > 0 && (!r.rule.method || r.rule.method === ex.method) && r.rule.path.test(ex.path),
    );
  const stage: Stage = async (ex, next): Promise<Reply> => {
    if (!ex.path.startsWith("/v1/")) return next();
    const hit = match(ex);
    const key = ex.headers["idempotency-key"];
    calls.push({
      method: ex.method,
      path: ex.path,
      idempotencyKey: typeof key === "string" ? key : undefined,
      fault: hit?.rule.fault,
    });
    if (!hit) return next();
    hit.left--;
    hit.fired++;
    if (hit.rule.fault === "delay") {
      await new Promise((resolve) => setTimeout(resolve, hit.rule.delayMs ?? 1000));
      return next();
    }
    const { status, body } = ERRORS[hit.rule.fault];
    return { status, body };
  };
  return {
    stage,
    inject(rule) {
      const entry = { rule, left: rule.times ?? 1, fired: 0 };
      rules.push(entry);
      return {
        get fired() {
          return entry.fired;
        },
      };
    },
    calls,
    clear() {
      rules.length = 0;
      calls.length = 0;
    },
  };
}
