import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  defineEmail,
  type EmailConfig,
  emailContext,
  type SourcedTemplate,
} from "../../src/platform/email/templates.ts";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));
const CONFIG: EmailConfig = {
  FRONTEND_URL: "https://app.example.test/",
  PRODUCT_NAME: "Acme Cloud",
  EMAIL_FOOTER: "Acme Ltd, 1 Main St. You have an account at {{product}} ({{frontendUrl}}).",
};

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : [join(dir, e.name)])),
  );
  return nested.flat().filter((f) => f.endsWith(".ts"));
}

/** Every template in src: each module that calls defineEmail, and what it exports. */
async function allTemplates(): Promise<SourcedTemplate<unknown>[]> {
  const found: SourcedTemplate<unknown>[] = [];
  for (const file of await sourceFiles(SRC)) {
    if (file.endsWith("templates.ts")) continue;
    const calls = (await readFile(file, "utf8")).match(/defineEmail</g)?.length ?? 0;
    if (calls === 0) continue;
    const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    const templates = Object.values(module).filter(
      (v): v is SourcedTemplate<unknown> => typeof v === "object" && v !== null && "source" in v,
    );
    assert.equal(
      templates.length,
      calls,
      `${relative(SRC, file)} exports each template it defines`,
    );
    found.push(...templates);
  }
  return found;
}

/** The sample with every string replaced by markup, to prove the HTML part escapes values. */
function hostile(sample: unknown): unknown {
  return Object.fromEntries(
    Object.entries(sample as Record<string, unknown>).map(([k, v]) => [
      k,
      typeof v === "string" ? `<script>alert("${k}")</script>` : v,
    ]),
  );
}

describe("email templates", async () => {
  const templates = await allTemplates();
  const ctx = emailContext(CONFIG);

  test("every email of every feature is found, with a unique name", () => {
    const names = templates.map((t) => t.name).sort();
    for (const expected of [
      "accounts.welcome",
      "accounts.verify_email",
      "accounts.password_reset",
      "accounts.password_changed",
      "billing.subscription_confirmation",
      "billing.payment_failed",
      "billing.payment_action_required",
      "billing.cancellation",
      "billing.trial_ending",
    ]) {
      assert.ok(names.includes(expected), `${expected} in ${names.join(", ")}`);
    }
    assert.equal(new Set(names).size, names.length);
  });

  for (const template of templates) {
    test(`${template.name}: both parts rendered from the sample, nothing left unfilled`, () => {
      const email = template.render(template.source.sample, ctx);
      for (const part of [email.subject, email.text, email.html]) {
        assert.doesNotMatch(part, /\{\{|\}\}/, `${template.name}: ${part}`);
      }
      assert.ok(email.subject.length > 0 && !email.subject.includes("\n"));
      // The footer from settings, with its own placeholders filled, in both parts.
      assert.match(
        email.text,
        /\n--\nAcme Ltd, 1 Main St\. You have an account at Acme Cloud \(https:\/\/app\.example\.test\)\.\n$/,
      );
      assert.match(email.html, /Acme Ltd, 1 Main St\. You have an account at Acme Cloud/);
      // Every link is absolute: into the web app (FRONTEND_URL) or Stripe's hosted invoice.
      const hrefs = [...email.html.matchAll(/href="([^"]*)"/g)].map((m) => m[1] ?? "");
      assert.ok(hrefs.length > 0, "at least one link");
      for (const href of hrefs) {
        assert.match(href, /^https:\/\/(app\.example\.test\/|invoice\.stripe\.com\/)/, href);
      }
      // The text part carries the same links, as "label: url".
      for (const href of hrefs) assert.ok(email.text.includes(href.replaceAll("&amp;", "&")));
    });

    test(`${template.name}: the HTML part escapes every value`, () => {
      const email = template.render(hostile(template.source.sample), ctx);
      assert.doesNotMatch(email.html, /<script/i);
      assert.match(email.html, /&lt;script&gt;/);
    });
  }

  test("the product name and the footer are escaped in HTML too", () => {
    const [template] = templates;
    assert.ok(template);
    const email = template.render(
      template.source.sample,
      emailContext({
        FRONTEND_URL: "https://app.example.test",
        PRODUCT_NAME: "<script>p</script>",
        EMAIL_FOOTER: "<b>{{product}}</b>",
      }),
    );
    assert.doesNotMatch(email.html, /<script|<b>/);
    assert.match(email.html, /&lt;b&gt;&lt;script&gt;p&lt;\/script&gt;&lt;\/b&gt;/);
  });

  test("a missing value is an error naming the placeholder, not an email with braces", () => {
    const broken = defineEmail<{ planName?: string }>({
      name: "test.broken",
      subject: "About {{planName}}",
      body: "Hi,\n\nYour {{planName}} plan.",
      values: (data) => ({ planName: data.planName ?? null }),
      sample: {},
    });
    assert.throws(() => broken.render({}, ctx), /test\.broken: no value for \{\{planName\}\}/);
    const typo = defineEmail<object>({
      name: "test.typo",
      subject: "Hello",
      body: "Hi {{ name }},",
      values: () => ({}),
      sample: {},
    });
    assert.throws(() => typo.render({}, ctx), /test\.typo: malformed/);
  });

  test("sections, paragraphs and links: one source, two parts that say the same", () => {
    const t = defineEmail<{ end: string | null }>({
      name: "test.shape",
      subject: "Shape",
      body: [
        "Hi {{name}},",
        "",
        "First line.",
        "{{#end}}Paid until {{end}}.{{/end}}",
        "[Your billing]({{url}})",
      ].join("\n"),
      values: (data, c) => ({
        name: "Zoë & co",
        end: data.end,
        url: c.link("/billing", { a: "1 2" }),
      }),
      sample: { end: null },
    });
    const without = t.render({ end: null }, ctx);
    assert.ok(
      without.text.startsWith(
        "Hi Zoë & co,\n\nFirst line.\nYour billing: https://app.example.test/billing?a=1+2\n\n--\n",
      ),
      without.text,
    );
    assert.match(
      without.html,
      /<p>Hi Zoë &amp; co,<\/p>\n<p>First line\.<br>\n<a href="https:\/\/app\.example\.test\/billing\?a=1\+2">Your billing<\/a><\/p>/,
    );
    const withEnd = t.render({ end: "2026-02-01" }, ctx);
    assert.match(withEnd.text, /First line\.\nPaid until 2026-02-01\.\nYour billing/);
  });
});
