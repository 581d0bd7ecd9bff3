import { readFile } from "node:fs/promises";
import { ROOT } from "../helpers/process.ts";

/**
 * The Dockerfile read as data, for the tests that replay an image without a Docker engine: one
 * image (a build target) is its stage plus the stages it is built `FROM`, so what it holds is
 * the union of their COPY sources and ENV values.
 */

export interface Image {
  target: string;
  /** Build-context paths the image copies (COPY --from=<stage> excluded: node_modules). */
  copies: string[];
  env: Record<string, string>;
  /** Every instruction of the chain, continuation lines joined, e.g. "USER node". */
  instructions: string[];
}

interface Stage {
  name: string | undefined;
  from: string;
  instructions: string[];
}

function stages(text: string): Stage[] {
  const lines = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"));
  const found: Stage[] = [];
  for (const line of lines) {
    const from = /^FROM (\S+)(?: AS (\S+))?$/i.exec(line);
    if (from?.[1]) found.push({ from: from[1], name: from[2], instructions: [] });
    else found.at(-1)?.instructions.push(line.replace(/\s+/g, " "));
  }
  return found;
}

function envOf(instruction: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of instruction.slice(4).matchAll(/(\w+)=(?:"([^"]*)"|(\S+))/g)) {
    if (m[1]) env[m[1]] = m[2] ?? m[3] ?? "";
  }
  return env;
}

/** The image `docker build --target <target>` makes; without a target, the last stage's. */
export async function dockerImage(target?: string): Promise<Image> {
  const all = stages(await readFile(`${ROOT}Dockerfile`, "utf8"));
  const stage = target ? all.find((s) => s.name === target) : all.at(-1);
  if (!stage) throw new Error(`the Dockerfile has no stage ${target ?? "at all"}`);
  const chain: Stage[] = [stage];
  for (let s = stage; ; ) {
    const parent = all.find((p) => p.name === s.from);
    if (!parent) break;
    chain.unshift(parent);
    s = parent;
  }
  const instructions = chain.flatMap((s) => s.instructions);
  const copies = instructions.flatMap((line) => {
    const m = /^COPY (?:--chown=\S+ )?(?!--from)(.+) \S+$/.exec(line);
    return m?.[1] ? m[1].split(" ") : [];
  });
  const env = Object.assign({}, ...instructions.filter((l) => l.startsWith("ENV ")).map(envOf));
  return { target: stage.name ?? "", copies: [...new Set(copies)], env, instructions };
}
