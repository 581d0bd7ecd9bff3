import { registerHooks } from "node:module";

/**
 * Halves every process's start: loaded with `--import` before the app (npm scripts, the
 * Dockerfile, the test runner; API threads inherit it).
 *
 * Node 24 reads a `.js` file's package scope twice per file it loads (once to resolve it, once to
 * load it), and each read parses the package's `exports` map again: `getPackageScopeConfig`
 * spreads the package.json it caches, which runs the getter that parses `exports`. drizzle-orm's
 * package.json is large, an entry for each of its files, and a process loads a couple of hundred
 * of them: about half of every start and most of its garbage (docs/performance.md).
 *
 * drizzle-orm's ES modules import one another only by relative path with the file's extension,
 * and the package is `"type": "module"`, so such an import is answered here as Node's resolver
 * would answer it, without asking for the package scope. Everything else goes to Node's own.
 */
const DRIZZLE = "/node_modules/drizzle-orm/";

const inDrizzle = (url: string | undefined): url is string =>
  url?.includes(DRIZZLE) === true && url.endsWith(".js");

const relativeJs = (specifier: string) =>
  (specifier.startsWith("./") || specifier.startsWith("../")) && specifier.endsWith(".js");

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (inDrizzle(context.parentURL) && relativeJs(specifier)) {
      const url = new URL(specifier, context.parentURL).href;
      return { url, format: "module", shortCircuit: true };
    }
    return nextResolve(specifier, context);
  },
  load(url, context, nextLoad) {
    return nextLoad(url, inDrizzle(url) ? { ...context, format: "module" } : context);
  },
});
