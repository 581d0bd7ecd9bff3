# syntax=docker/dockerfile:1
# The API and the worker share this image: `node src/main.ts` (API) or `node src/worker.ts`.
# Node 24 runs the TypeScript sources directly (type stripping): there is no build step (with
# WEB_CONCURRENCY above 1 the API threads run a bundle the process builds at start).
# Two images: the default (last) stage is production; `--target dev` adds the Stripe emulator for
# docker-compose.yml's development stack. The production image never holds the emulator.

FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# The typed client (clients/typescript) is an npm workspace: the lockfile names it.
COPY clients/typescript/package.json ./clients/typescript/
# Production dependencies only; `node@24` and the toolchain are devDependencies.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:24-slim AS base
# Node 24 sizes V8's heap from the machine's memory, and V8 lets garbage pile up to that size
# before a full collection: on a 24 GiB host an API process rested at 300 MB and peaked at 535 MB.
# A 4 MB semi-space and a 96 MB old space (the live heap under load is about 50 MB), with the V8
# setting of src/platform/v8-flags.ts and the threads' bundle (src/platform/api-bundle.ts, written
# to /app/node_modules/.cache/api-threads/, which the node user owns), keep two API threads near
# 205 MB at rest and 265 MB at peak (bench:tier), with no measurable loss of throughput.
# Node's compile cache: each process saves the modules it compiled, stripped of their types, once
# it is ready, so every later start in the container skips the TypeScript stripper (about 14 MB
# per process, bench/) and starts faster. src/platform/module-hooks.ts halves every start (the
# comment there says how). glibc gives each thread that allocates an arena of its own (up to 8 per
# core) and keeps what they once held: two arenas cut the API threads' peak by about 22 MiB (bench/).
ENV PORT=8000 \
    HOST=0.0.0.0 \
    MALLOC_ARENA_MAX=2 \
    NODE_OPTIONS="--max-semi-space-size=4 --max-old-space-size=96 --import=/app/src/platform/module-hooks.ts" \
    NODE_COMPILE_CACHE=/tmp/node-compile-cache
WORKDIR /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --chown=node:node package.json ./
COPY --chown=node:node src ./src
# The typed client's ES modules: the app serves them at /client/ to its pages (docs/client.md).
COPY --chown=node:node clients/typescript/src ./clients/typescript/src
COPY --chown=node:node migrations ./migrations
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Migrations run at start unless MIGRATE_ON_START=false (then: node src/cli.ts db:migrate).
CMD ["node", "src/main.ts"]

# Development image (docker-compose.yml): the same service plus the Stripe emulator, which runs
# as its own container (`node stripe-emulator/main.ts`) and keeps its state under /app/data.
FROM base AS dev
ENV NODE_ENV=development
RUN mkdir /app/data && chown node:node /app/data
COPY --chown=node:node stripe-emulator ./stripe-emulator
USER node

# Production image, the default target (Render builds this one): no emulator, and the service
# refuses to start without its production settings.
FROM base AS production
ENV NODE_ENV=production
USER node
