import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { startTestApp, type TestApp } from "../helpers/app.ts";

// What the console's feature serves: one page under a strict CSP, its modules and stylesheet with
// their content types, nothing outside public/, and nothing at all with ADMIN_CONSOLE=off.

const PUBLIC = new URL("../../src/admin-console/public/", import.meta.url);

let on: TestApp;
let off: TestApp;
before(async () => {
  [on, off] = await Promise.all([
    startTestApp({ worker: false }),
    startTestApp({ worker: false, env: { ADMIN_CONSOLE: "off" } }),
  ]);
});
after(async () => {
  await Promise.all([on?.close(), off?.close()]);
});

const get = (t: TestApp, url: string) => t.app.inject({ method: "GET", url });

describe("ADMIN_CONSOLE", () => {
  test("on: /admin/ is the console's page under a CSP that allows no inline script or style", async () => {
    const res = await get(on, "/admin/");
    assert.equal(res.statusCode, 200);
    assert.match(res.headers["content-type"] as string, /^text\/html; charset=utf-8/);
    const csp = res.headers["content-security-policy"] as string;
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /connect-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe/);
    assert.match(res.body, /<script type="module" src="\/admin\/app\.js"><\/script>/);
    assert.doesNotMatch(res.body, /<script>|<style|\son\w+=|https?:\/\//);
    assert.equal((await get(on, "/admin")).statusCode, 200);
  });

  test("on: every module, the stylesheet and the icon, each with its content type", async () => {
    const files = (await readdir(PUBLIC, { recursive: true })).filter((f) =>
      /\.(js|css|svg)$/.test(f),
    );
    assert.ok(files.includes("app.js") && files.includes("pages/users.js"));
    const types: Record<string, RegExp> = {
      js: /^text\/javascript/,
      css: /^text\/css/,
      svg: /^image\/svg\+xml/,
    };
    for (const file of files) {
      const res = await get(on, `/admin/${file}`);
      assert.equal(res.statusCode, 200, file);
      assert.match(
        res.headers["content-type"] as string,
        types[file.split(".").pop() ?? ""] ?? /x^/,
      );
      assert.equal(res.headers["x-content-type-options"], "nosniff");
      assert.equal(res.body, await readFile(new URL(file, PUBLIC), "utf8"));
      // Values from the API are text, never markup; and the console calls no other origin.
      if (file.endsWith(".js")) {
        assert.doesNotMatch(res.body, /innerHTML|outerHTML|insertAdjacentHTML|https?:\/\//, file);
      }
    }
    assert.equal((await get(on, "/admin/../package.json")).statusCode, 404);
    assert.equal((await get(on, "/admin/nothing.js")).statusCode, 404);
  });

  test("the console reaches the API only through the typed client", async () => {
    for (const file of await readdir(PUBLIC, { recursive: true })) {
      if (!file.endsWith(".js")) continue;
      const text = await readFile(new URL(file, PUBLIC), "utf8");
      assert.doesNotMatch(text, /\bfetch\(|XMLHttpRequest|EventSource/, file);
      const imports = [...text.matchAll(/\bfrom "([^"]+)";/g)].map((m) => m[1]);
      for (const from of imports) assert.match(from ?? "", /^(\.\.?\/|\/client\/index\.js$)/, file);
    }
  });

  test("off: /admin/ and its files are 404", async () => {
    assert.equal((await get(off, "/admin/")).statusCode, 404);
    assert.equal((await get(off, "/admin")).statusCode, 404);
    assert.equal((await get(off, "/admin/app.js")).statusCode, 404);
  });
});
