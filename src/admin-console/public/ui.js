// Small DOM helpers shared by the console's pages. Every value from the API goes into the page as
// text (text nodes, attributes), never as HTML.

/** `h("p", {class: "x"}, "text", child)`: an element; strings and numbers become text nodes. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else if (value !== undefined && value !== null && value !== false) {
      el.setAttribute(key, String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** A link to a console route (`#/users/…`). */
export const link = (hash, text, attrs = {}) => h("a", { href: hash, ...attrs }, text);

export const money = (amount, currency) =>
  amount === null || amount === undefined
    ? ""
    : `${amount} ${String(currency ?? "").toUpperCase()}`.trim();

/** A date-time as `2026-12-07 14:05` (UTC), or "" for none. */
export function when(value) {
  if (value === null || value === undefined || value === "") return "";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** A status as a badge; the word itself carries the meaning (colour only repeats it). */
export const badge = (status) =>
  h("span", { class: `badge badge-${String(status ?? "none").replace(/[^a-z_]/gi, "")}` }, status);

/**
 * A table whose rows are `rows` and columns `columns` ({label, value(row) → node|string}). It sits
 * in a focusable, labelled region that scrolls sideways on a narrow screen, so the page body never
 * does. An empty list shows `empty` instead.
 */
export function table(label, columns, rows, { empty = "Nothing to show.", rowClass } = {}) {
  if (!rows || rows.length === 0) return h("p", { class: "empty" }, empty);
  return h(
    "div",
    { class: "table-wrap", role: "region", "aria-label": label, tabindex: "0" },
    h(
      "table",
      {},
      h("caption", { class: "visually-hidden" }, label),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          columns.map((c) => h("th", { scope: "col" }, c.label)),
        ),
      ),
      h(
        "tbody",
        {},
        rows.map((row) =>
          h(
            "tr",
            { class: rowClass ? rowClass(row) : undefined },
            columns.map((c) => h("td", { "data-label": c.label }, c.value(row) ?? "")),
          ),
        ),
      ),
    ),
  );
}

/** `{count, next, previous}` as "Page n of m" with previous/next buttons. */
export function pager(data, page, onPage, pageSize = 20) {
  const pages = Math.max(1, Math.ceil((data?.count ?? 0) / pageSize));
  return h(
    "nav",
    { class: "pager", "aria-label": "Pagination" },
    h(
      "button",
      { type: "button", disabled: !data?.previous, onclick: () => onPage(page - 1) },
      "Previous page",
    ),
    h("span", { "aria-live": "polite" }, `Page ${page} of ${pages} (${data?.count ?? 0} in all)`),
    h(
      "button",
      { type: "button", disabled: !data?.next, onclick: () => onPage(page + 1) },
      "Next page",
    ),
  );
}

/** A labelled form control: `field("Email", input)`. */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    control,
    hint ? h("small", {}, hint) : null,
  );
}

/** Label/value pairs as a description list; null values show as "—". */
export function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs.map(([term, value]) => [
      h("dt", {}, term),
      h("dd", {}, value === null || value === undefined || value === "" ? "—" : value),
    ]),
  );
}

export const section = (title, ...children) =>
  h("section", { "aria-label": title }, h("h2", {}, title), ...children);

export function errorBox(err) {
  return h(
    "p",
    { class: "error", role: "alert" },
    err instanceof Error ? err.message : String(err),
  );
}

/** A short message in the status region (read out by screen readers). */
export function notify(text, kind = "ok") {
  const region = document.getElementById("status");
  if (!region) return;
  region.className = `status status-${kind}`;
  region.textContent = text;
}

/**
 * Asks before a destructive action in a modal <dialog>. `fields` are extra form controls
 * (`field(...)` nodes) whose values come back with the answer; null means cancelled. Focus goes
 * to the dialog's first control and back to the opener when it closes.
 */
export function confirmAction({ title, message, confirm = "Confirm", fields = [], danger = true }) {
  const opener = document.activeElement;
  return new Promise((resolve) => {
    const form = h(
      "form",
      { method: "dialog" },
      h("h2", { id: "dialog-title" }, title),
      h("p", {}, message),
      fields,
      h(
        "div",
        { class: "actions" },
        // Not a submit button: Enter in a field confirms (the form's one submit button), and
        // cancelling skips the fields' validation.
        h(
          "button",
          {
            type: "button",
            class: "secondary",
            onclick: (e) => e.target.closest("dialog").close("cancel"),
          },
          "Cancel",
        ),
        h("button", { type: "submit", value: "confirm", class: danger ? "danger" : "" }, confirm),
      ),
    );
    const dialog = h("dialog", { "aria-labelledby": "dialog-title" }, form);
    dialog.addEventListener("close", () => {
      const ok = dialog.returnValue === "confirm";
      const values = Object.fromEntries(new FormData(form).entries());
      dialog.remove();
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
      resolve(ok ? values : null);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A button that runs `fn` once at a time, shows failures next to itself, and says when done. */
export function actionButton(label, fn, attrs = {}) {
  const out = h("span", { class: "action-result", role: "status" });
  const button = h("button", { type: "button", ...attrs }, label);
  button.addEventListener("click", async () => {
    button.disabled = true;
    out.replaceChildren();
    try {
      await fn();
    } catch (err) {
      out.replaceChildren(errorBox(err));
    } finally {
      button.disabled = false;
    }
  });
  return h("span", { class: "action" }, button, out);
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

/** A value of unknown shape as a cell: dates, booleans, statuses and nested objects readable. */
export function cell(value, key = "") {
  if (value === null || value === undefined) return "";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "string" && ISO.test(value)) return when(value);
  if (key === "status" || key.endsWith("_status")) return badge(value);
  if (typeof value === "object") return h("code", {}, JSON.stringify(value));
  return String(value);
}
