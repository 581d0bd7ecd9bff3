import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cp, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";
import pg from "pg";
import { databaseUrlFor, dropPostgresDatabase, TEST_DATABASE_URL } from "../helpers/database.ts";
import { ROOT, stackLines, startProcess } from "../helpers/process.ts";
import { waitFor } from "../helpers/wait.ts";
import { dockerImage } from "./dockerfile.ts";

// No Docker engine here, so replay the image's recipe: copy what the Dockerfile copies into a
// clean directory, run its install command (production dependencies only) and its start command
// with a complete production configuration. If anything the service needs at run time lived in
// devDependencies, this start fails.

const run = promisify(execFile);
const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

async function recipe(): Promise<{
  copies: string[];
  install: string;
  start: string[];
  nodeOptions: string;
}> {
  // node_modules comes from the deps stage: its sources and its install command, then the image's.
  const deps = await dockerImage("deps");
  const image = await dockerImage();
  const install = deps.instructions
    .find((line) => line.startsWith("RUN npm ci"))
    ?.slice(4)
    .split("&&")[0]
    ?.trim();
  const cmd = image.instructions.find((line) => line.startsWith("CMD "))?.slice(4);
  const nodeOptions = image.env.NODE_OPTIONS;
  assert.ok(install && cmd, "the Dockerfile has an npm ci step and a CMD");
  assert.ok(nodeOptions !== undefined, "the image sets NODE_OPTIONS");
  assert.ok(image.instructions.includes("WORKDIR /app"));
  const copies = [...new Set([...deps.copies, ...image.copies])];
  return { copies, install, start: JSON.parse(cmd) as string[], nodeOptions };
}

test("the default image is production, without the emulator the dev target adds", async () => {
  const production = await dockerImage();
  assert.equal(production.target, "production", "a plain `docker build` makes production");
  assert.equal(production.env.NODE_ENV, "production");
  assert.ok(!production.copies.some((path) => path.startsWith("stripe-emulator")));
  const dev = await dockerImage("dev");
  assert.equal(dev.env.NODE_ENV, "development");
  assert.deepEqual(dev.copies.sort(), [...production.copies, "stripe-emulator"].sort());
  for (const image of [production, dev]) {
    assert.equal(image.instructions.filter((l) => l.startsWith("USER ")).at(-1), "USER node");
  }
  const ignored = (await readFile(`${ROOT}.dockerignore`, "utf8")).split("\n");
  assert.ok(!ignored.includes("stripe-emulator"), "the dev target copies it from the context");
});

test("the image recipe serves /readyz with production settings", {
  skip: !TEST_DATABASE_URL && "TEST_DATABASE_URL not set",
  timeout: 300_000,
}, async () => {
  const { copies, install, start, nodeOptions } = await recipe();
  assert.deepEqual(copies.sort(), [
    "clients/typescript/package.json",
    // Served at /client/ (it reads them, and openapi-fetch's file, at start).
    "clients/typescript/src",
    "migrations",
    "package-lock.json",
    "package.json",
    "src",
  ]);
  const dir = await mkdtemp(join(tmpdir(), "billing-image-"));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  for (const path of copies) await cp(`${ROOT}${path}`, join(dir, path), { recursive: true });
  const [npm, ...args] = install.split(/\s+/);
  assert.equal(npm, "npm");
  await run("npm", args, { cwd: dir, maxBuffer: 16 * 1024 * 1024 });

  const name = `billing_image_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: databaseUrlFor("postgres") });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  cleanup.push(() => dropPostgresDatabase(name));

  assert.deepEqual(start.slice(0, 1), ["node"]);
  const running = startProcess(
    start.slice(1).join(" "),
    {
      NODE_ENV: "production",
      PORT: "0",
      HOST: "127.0.0.1",
      SECRET_KEY: randomBytes(32).toString("hex"),
      DATABASE_URL: databaseUrlFor(name),
      STRIPE_SECRET_KEY: "sk_test_image_recipe",
      STRIPE_PUBLISHABLE_KEY: "pk_test_image_recipe",
      // Shaped like Stripe's (whsec_ and 24+ characters): production refuses a placeholder.
      STRIPE_WEBHOOK_SECRET: `whsec_${randomBytes(24).toString("hex")}`,
      ALLOWED_HOSTS: "billing.example.com",
      EMAIL_HOST: "smtp.invalid",
      // The image's, with its /app standing for this directory: a file it names that the image
      // does not hold (the module hooks, say) would stop the start.
      NODE_OPTIONS: nodeOptions.replaceAll("/app/", `${dir}/`),
    },
    dir,
    dir,
  );
  cleanup.push(async () => {
    running.child.kill("SIGKILL");
  });
  const base = await running.url;
  const ready = await waitFor(
    async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined),
    { what: "/readyz 200", timeoutMs: 60_000 },
  );
  assert.equal(ready, true);
  running.child.kill("SIGTERM");
  assert.equal(await running.exited, 0);
  assert.deepEqual(stackLines(running.output()), []);
});
