/**
 * A request target as the routes should see it: origin form ("/path?query") with runs of slashes
 * in the path collapsed to one.
 *
 * Node accepts the absolute form ("GET http://evil.com/api/… HTTP/1.1", RFC 9112 §3.2.2) and
 * find-my-way routes it, and `ignoreDuplicateSlashes` routes "//api/…" too; but anything that
 * resolves the raw target against a base URL (pagination links, the HTTPS redirect) would take
 * "evil.com" or "api" as the authority. The authority of a link is the validated Host header,
 * never the request line.
 */
export function originForm(target: string): string {
  if (target.charCodeAt(0) === 47 && !target.includes("//")) return target;
  let rest = target;
  const authority = /^[a-z][a-z\d+.-]*:\/\/[^/?#]*/i.exec(target);
  if (authority) {
    rest = target.slice(authority[0].length);
    if (!rest.startsWith("/")) rest = `/${rest}`;
  }
  const query = rest.indexOf("?");
  const path = query === -1 ? rest : rest.slice(0, query);
  return path.replace(/\/{2,}/g, "/") + rest.slice(path.length);
}
