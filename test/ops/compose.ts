import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import { ROOT } from "../helpers/process.ts";

/** The parts of a compose file the ops tests read (docker-compose.yml and its production twin). */

export interface ComposeService {
  build?: string | { context: string; target?: string };
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  env_file?: (string | { path: string; required?: boolean })[] | string;
  profiles?: string[];
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: {
    test?: string[];
    disable?: boolean;
    interval?: string;
    timeout?: string;
    retries?: number;
    start_period?: string;
  };
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** Parsed as Compose does: YAML merge keys (`<<: *anchor`) are applied. */
export async function composeFile(name: string): Promise<ComposeFile> {
  return parse(await readFile(`${ROOT}${name}`, "utf8"), { merge: true }) as ComposeFile;
}

/** The services a plain `docker compose up` starts: those outside every profile. */
export function defaultServices(compose: ComposeFile): [string, ComposeService][] {
  return Object.entries(compose.services).filter(([, s]) => !s.profiles?.length);
}

/** Services in an order where each comes after everything it depends on. */
export function startOrder(compose: ComposeFile): string[] {
  const order: string[] = [];
  const visit = (name: string, path: string[]) => {
    if (order.includes(name)) return;
    if (path.includes(name)) throw new Error(`depends_on cycle: ${[...path, name].join(" → ")}`);
    const service = compose.services[name];
    if (!service) throw new Error(`${path.at(-1)} depends on an unknown service ${name}`);
    for (const dep of Object.keys(service.depends_on ?? {})) visit(dep, [...path, name]);
    order.push(name);
  };
  for (const [name] of defaultServices(compose)) visit(name, []);
  return order;
}

/** The first http URL in a service's healthcheck command. */
export function healthcheckUrl(service: ComposeService | undefined): URL | undefined {
  const text = service?.healthcheck?.test?.join(" ") ?? "";
  const match = /https?:\/\/[^'"\s)]+/.exec(text);
  return match ? new URL(match[0]) : undefined;
}

/** The container port a service publishes ("8000:8000" → 8000). */
export function containerPort(service: ComposeService | undefined): number | undefined {
  const published = service?.ports?.[0]?.split(":").at(-1);
  return published ? Number(published) : undefined;
}
