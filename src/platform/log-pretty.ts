import { styleText } from "node:util";
import type { DestinationStream } from "pino";

type Style = Parameters<typeof styleText>[0];

const LEVELS: Record<number, [string, Style]> = {
  10: ["TRACE", "gray"],
  20: ["DEBUG", "gray"],
  30: ["INFO ", "green"],
  40: ["WARN ", "yellow"],
  50: ["ERROR", "red"],
  60: ["FATAL", ["bgRed", "white"]],
};

/** Fields every line has, or that the line's text already shows. */
const SHOWN = new Set(["level", "time", "pid", "hostname", "msg", "err", "req", "res"]);

interface Line {
  level: number;
  time: number;
  msg?: string;
  err?: { type?: string; message?: string; stack?: string };
  req?: { method?: string; url?: string };
  res?: { statusCode?: number };
  responseTime?: number;
  [field: string]: unknown;
}

/**
 * Development logs on a terminal: pino's JSON lines turned into one line each, `time LEVEL message
 * key=value…`, a request as `GET /url 200 3.1 ms`, an error's stack indented below. Written here
 * rather than with pino-pretty, a dependency and a worker thread for a few lines of formatting;
 * production keeps the JSON (createLogger chooses).
 */
export function prettyDestination(out: NodeJS.WriteStream): DestinationStream {
  const style = (format: Style, text: string) => styleText(format, text, { stream: out });
  return {
    write(chunk: string) {
      for (const json of chunk.split("\n")) {
        if (json) out.write(`${format(json, style)}\n`);
      }
    },
  };
}

export function format(json: string, style: (format: Style, text: string) => string): string {
  let line: Line;
  try {
    line = JSON.parse(json);
  } catch {
    return json;
  }
  const [name, color] = LEVELS[line.level] ?? [String(line.level), "white"];
  const time = new Date(line.time).toTimeString().slice(0, 8);
  const parts = [style("gray", time), style(color, name)];
  if (line.req?.method) {
    parts.push(`${line.req.method} ${line.req.url ?? ""}`);
    if (line.res?.statusCode) parts.push(String(line.res.statusCode));
    if (typeof line.responseTime === "number") parts.push(`${line.responseTime.toFixed(1)} ms`);
  }
  if (line.msg && line.msg !== "request completed") parts.push(line.msg);
  for (const [key, value] of Object.entries(line)) {
    if (SHOWN.has(key) || key === "responseTime" || value === undefined) continue;
    const text = typeof value === "string" ? value : JSON.stringify(value);
    parts.push(style("gray", `${key}=${text}`));
  }
  let text = parts.join(" ");
  if (line.err) {
    const { type, message, stack } = line.err;
    text += `\n    ${stack ? stack.replace(/\n/g, "\n    ") : `${type ?? "Error"}: ${message}`}`;
  }
  return text;
}
