/**
 * Email templates are plain objects that each feature defines next to itself (accounts: welcome;
 * billing: receipts, …). A template renders a text and an HTML part; links go to the web app.
 */

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

export interface EmailContext {
  /** FRONTEND_URL without a trailing slash. */
  frontendUrl: string;
  /** An absolute link into the web app: `link("/billing")`. */
  link(path: string): string;
}

export interface EmailTemplate<D> {
  /** Stored with each email and part of its dedupe key: keep it stable. */
  name: string;
  render(data: D, ctx: EmailContext): RenderedEmail;
}

export function emailContext(frontendUrl: string): EmailContext {
  const base = frontendUrl.replace(/\/+$/, "");
  return {
    frontendUrl: base,
    link: (path) => `${base}${path.startsWith("/") ? path : `/${path}`}`,
  };
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

/** The shared HTML frame; `body` must already be escaped. */
export function htmlLayout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
  <body style="font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; line-height: 1.5; color: #1f2933;">
    <div style="max-width: 560px; margin: 0 auto; padding: 24px;">
${body}
    </div>
  </body>
</html>
`;
}
