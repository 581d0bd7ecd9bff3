import { connect } from "node:net";

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends `target` on a raw socket, exactly as written: `fetch` and `inject` would normalize an
 * absolute-form target ("http://evil.com/…") or a doubled slash before it reached the server.
 */
export function rawGet(
  base: string,
  target: string,
  headers: Record<string, string>,
): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  const head = Object.entries({ ...headers, connection: "close" })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("");
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () =>
      socket.end(`GET ${target} HTTP/1.1\r\n${head}\r\n`),
    );
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const split = text.indexOf("\r\n\r\n");
      const [statusLine = "", ...lines] = text.slice(0, split).split("\r\n");
      const fields = lines.map((line) => {
        const colon = line.indexOf(":");
        return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
      });
      resolve({
        status: Number(statusLine.split(" ")[1]),
        headers: Object.fromEntries(fields),
        body: text.slice(split + 4),
      });
    });
  });
}
