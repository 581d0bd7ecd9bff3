import type { FastifyRequest } from "fastify";
import type { App } from "./types.ts";

/**
 * Makes `app.close()` wait, up to `timeoutMs`, for every request whose handler is still running,
 * however its client fared, so that the services behind the handlers (the database, the job queue)
 * close after the last of them. Fastify's close waits for open connections only: a client that hung
 * up mid-request (say, during a login's argon2 hash) leaves its handler running, and closing the
 * database under it failed the handler's next statement and logged a 500 on every deploy.
 *
 * A request counts from its first hook to its `onSend`, which every answer passes through (an error
 * and a 404 included) once nothing is left to do but write it.
 */
export function waitForHandlersOnClose(app: App, timeoutMs: number): void {
  const running = new Set<FastifyRequest>();
  let drained: (() => void) | undefined;
  app.addHook("onRequest", (request, _reply, done) => {
    running.add(request);
    done();
  });
  app.addHook("onSend", (request, _reply, payload, done) => {
    if (running.delete(request) && running.size === 0) drained?.();
    done(null, payload);
  });
  app.addHook("onClose", async () => {
    if (running.size === 0) return;
    app.log.info({ requests: running.size }, "waiting for running handlers");
    await new Promise<void>((resolve) => {
      drained = resolve;
      setTimeout(resolve, timeoutMs).unref();
    });
  });
}
