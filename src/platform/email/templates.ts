import type { Config } from "../../config.ts";

/**
 * Email templates. Each email is one source (`defineEmail`), written next to the feature that
 * sends it: a subject and a body with `{{placeholders}}`, from which both the plain-text and the
 * HTML part are rendered, so the two cannot say different things. Every value is HTML-escaped in
 * the HTML part; a placeholder without a value is an error, never an email with `{{name}}` in it.
 *
 * Body syntax, kept to what the emails need:
 * - paragraphs are separated by a blank line; lines within one stay lines (`<br>` in HTML);
 * - `{{key}}` is a value; `{{#key}}…{{/key}}` (within one line) shows only when `key` has a
 *   value, and a line left empty by it disappears;
 * - `[label]({{url}})` is a link: "label: url" in text, an anchor in HTML. The URL always comes
 *   from a value, so the template cannot hard-code a host.
 * Every email ends with the product's footer (EMAIL_FOOTER), which may use `{{product}}` and
 * `{{frontendUrl}}`, as every body may.
 */

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

/** The settings every email reads. */
export type EmailConfig = Pick<Config, "FRONTEND_URL" | "PRODUCT_NAME" | "EMAIL_FOOTER">;

export interface EmailContext {
  /** FRONTEND_URL without a trailing slash. */
  frontendUrl: string;
  productName: string;
  /** EMAIL_FOOTER, placeholders not yet filled. */
  footer: string;
  /** An absolute link into the web app: `link("/billing")`, `link("/reset-password", { token })`. */
  link(path: string, query?: Record<string, string>): string;
}

export interface EmailTemplate<D> {
  /** Stored with each email and part of its dedupe key: keep it stable. */
  name: string;
  render(data: D, ctx: EmailContext): RenderedEmail;
}

/** A value for each placeholder; null or "" hides a `{{#key}}` section (and fails a `{{key}}`). */
export type EmailValues = Record<string, string | null>;

export interface EmailSource<D> {
  name: string;
  subject: string;
  body: string;
  values(data: D, ctx: EmailContext): EmailValues;
  /** Data to render the template with in its test and previews. */
  sample: D;
}

/** A template defined by one source; it keeps the source for the template test. */
export type SourcedTemplate<D> = EmailTemplate<D> & { source: EmailSource<D> };

export function emailContext(config: EmailConfig): EmailContext {
  const base = config.FRONTEND_URL.replace(/\/+$/, "");
  return {
    frontendUrl: base,
    productName: config.PRODUCT_NAME,
    footer: config.EMAIL_FOOTER,
    link: (path, query) => {
      const url = `${base}${path.startsWith("/") ? path : `/${path}`}`;
      return query ? `${url}?${new URLSearchParams(query)}` : url;
    },
  };
}

export function defineEmail<D>(source: EmailSource<D>): SourcedTemplate<D> {
  return {
    name: source.name,
    source,
    render(data, ctx) {
      const values: EmailValues = {
        product: ctx.productName,
        frontendUrl: ctx.frontendUrl,
        ...source.values(data, ctx),
      };
      const fill = (template: string) => parse(template, values, source.name);
      // A header: one line, whatever the values hold.
      const subject = textOf(fill(source.subject)).replace(/\s+/g, " ").trim();
      const body = fill(source.body);
      const footer = fill(ctx.footer);
      return {
        subject,
        text: `${textOf(body)}\n\n--\n${textOf(footer)}\n`,
        html: htmlLayout(subject, htmlOf(body), htmlOf(footer)),
      };
    },
  };
}

type Segment = { kind: "text"; text: string } | { kind: "link"; label: string; href: string };
type Line = Segment[];
type Paragraph = Line[];

const SECTION = /\{\{#(\w+)\}\}(.*?)\{\{\/\1\}\}/g;
const PLACEHOLDER = /\{\{(\w+)\}\}/g;
const TOKEN = /\[([^\]]*)\]\(\{\{(\w+)\}\}\)|\{\{(\w+)\}\}/g;

/** The template as paragraphs of lines of filled-in segments. */
function parse(template: string, values: EmailValues, name: string): Paragraph[] {
  const value = (key: string): string => {
    const v = values[key];
    if (v === undefined || v === null || v === "") {
      throw new Error(`email template ${name}: no value for {{${key}}}`);
    }
    return v;
  };
  const paragraphs: Paragraph[] = [[]];
  for (const raw of template.split("\n")) {
    const line = raw.replace(SECTION, (_all, key: string, inner: string) =>
      values[key] ? inner : "",
    );
    if (line.trim() === "") {
      // A blank line in the template ends a paragraph; one a section emptied disappears.
      if (raw.trim() === "" && (paragraphs.at(-1)?.length ?? 0) > 0) paragraphs.push([]);
      continue;
    }
    paragraphs.at(-1)?.push(segments(line, value, name));
  }
  return paragraphs.filter((p) => p.length > 0);
}

function segments(line: string, value: (key: string) => string, name: string): Line {
  const out: Line = [];
  let at = 0;
  for (const m of line.matchAll(TOKEN)) {
    out.push({ kind: "text", text: literal(line.slice(at, m.index), name) });
    if (m[2] !== undefined) {
      const label = m[1] ?? "";
      literal(label.replace(PLACEHOLDER, ""), name);
      const filled = label.replace(PLACEHOLDER, (_all, key: string) => value(key));
      out.push({ kind: "link", label: filled, href: value(m[2]) });
    } else {
      out.push({ kind: "text", text: value(m[3] ?? "") });
    }
    at = m.index + m[0].length;
  }
  out.push({ kind: "text", text: literal(line.slice(at), name) });
  return out.filter((s) => s.kind === "link" || s.text !== "");
}

/** Template text between placeholders: a leftover brace pair is a typo, not content. */
function literal(text: string, name: string): string {
  if (/\{\{|\}\}/.test(text)) throw new Error(`email template ${name}: malformed "${text}"`);
  return text;
}

function textOf(paragraphs: Paragraph[]): string {
  const segment = (s: Segment) => (s.kind === "link" ? `${s.label}: ${s.href}` : s.text);
  return paragraphs.map((p) => p.map((line) => line.map(segment).join("")).join("\n")).join("\n\n");
}

function htmlOf(paragraphs: Paragraph[]): string {
  const segment = (s: Segment) =>
    s.kind === "link"
      ? `<a href="${escapeHtml(s.href)}">${escapeHtml(s.label)}</a>`
      : escapeHtml(s.text);
  return paragraphs
    .map((p) => `<p>${p.map((line) => line.map(segment).join("")).join("<br>\n")}</p>`)
    .join("\n");
}

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for HTML: user-supplied names end up in the HTML part. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

// A scheme, "www.", an "@" (mail clients link addresses) or a dotted name ending in letters
// ("evil.com", "bit.ly"; also with the ideographic and fullwidth dots that IDNA reads as dots).
const LINK_LIKE = /:\/\/|www[.。．｡]|@|[\p{L}\p{N}][.。．｡]\p{L}{2,}/iu;

/**
 * A person's name for "Hi …," or "there". Names are typed by whoever registers, and the welcome
 * email goes to whatever address they typed, so a name must not become a line of its own or a
 * link: whitespace (line breaks included) is collapsed to one space, and a name that a mail
 * client could turn into a link is not shown at all; a link cannot be made inert in a plain-text
 * part, where the client decides what to link. The HTML part must still escape the result.
 */
export function greetingName(name: string): string {
  const line = name.replace(/[\p{Cc}\p{Z}]+/gu, " ").trim();
  return line === "" || LINK_LIKE.test(line.normalize("NFKC")) ? "there" : line;
}

/** "1 hour", "3 days", "90 minutes": how long a link works, for the email that carries it. */
export function humanDuration(seconds: number): string {
  const [unit, size] =
    seconds % 86400 === 0
      ? ["day", 86400]
      : seconds % 3600 === 0
        ? ["hour", 3600]
        : seconds % 60 === 0
          ? ["minute", 60]
          : ["second", 1];
  const n = seconds / size;
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

/** The date part of an ISO time, as the emails show days. */
export function day(iso: string): string {
  return iso.slice(0, 10);
}

/** The shared HTML frame; `body` and `footer` must already be escaped. */
function htmlLayout(title: string, body: string, footer: string): string {
  return `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
  <body style="font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; line-height: 1.5; color: #1f2933;">
    <div style="max-width: 560px; margin: 0 auto; padding: 24px;">
${body}
      <hr style="border: none; border-top: 1px solid #e4e7eb; margin: 24px 0 12px;">
      <div style="font-size: 12px; color: #7b8794;">
${footer}
      </div>
    </div>
  </body>
</html>
`;
}
