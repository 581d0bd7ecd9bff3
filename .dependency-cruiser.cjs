// The architecture rules of docs/architecture.md ("Layers"), checked by
// `npm run lint` (depcruise). A violation fails with the rule's name. Type-only imports count:
// the swc parser reports them (TypeScript 7 offers dependency-cruiser no parser API).

const FEATURES = "^src/(?!platform/)[^/]+/";
const ENTRY_POINTS = "^src/(app|services|cli|main|worker|features)\\.ts$";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-cycles",
      comment:
        "Arrows only point down: a cycle, type imports included, means two modules must be understood together.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "platform-knows-no-feature",
      comment:
        "platform/ sits below every feature and entry point: features plug into it (src/platform/feature.ts), it never reaches up.",
      severity: "error",
      from: { path: "^src/platform/" },
      to: { path: [FEATURES, ENTRY_POINTS] },
    },
    {
      name: "feature-through-index",
      comment:
        "A feature uses another feature only through that feature's index.ts, its public surface.",
      severity: "error",
      from: { path: "^src/([^/]+)/", pathNot: "^src/platform/" },
      to: { path: FEATURES, pathNot: ["^src/$1/", "^src/[^/]+/index\\.ts$"] },
    },
    {
      name: "no-feature-imports-entry-point",
      comment:
        "Entry points (app, services, cli, main, worker, features) iterate the features; no feature or platform module imports them back.",
      severity: "error",
      from: { path: "^src/[^/]+/" },
      to: { path: ENTRY_POINTS },
    },
    {
      name: "webhook-ledger-knows-no-sender",
      comment:
        "The webhook ledger (src/webhooks/) is generic: the feature that owns the events injects their source and handler (src/features.ts). It imports neither the stripe SDK nor billing.",
      severity: "error",
      from: { path: "^src/webhooks/" },
      to: { path: ["^node_modules/stripe/", "^src/billing/"] },
    },
    {
      name: "emulator-stays-apart",
      comment:
        "The Stripe emulator stands alone (it is also run as its own process): it never imports the app.",
      severity: "error",
      from: { path: "^stripe-emulator/" },
      to: { path: "^src/" },
    },
    {
      name: "app-reaches-emulator-only-at-start-up",
      comment:
        "The app talks to Stripe through the SDK; only its start-up opens the in-process emulator (billing/stripe-client.ts) and keeps its state (billing/emulator-snapshot.ts).",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/billing/(stripe-client|emulator-snapshot)\\.ts$" },
      to: { path: "^stripe-emulator/" },
    },
    {
      name: "not-to-unresolvable",
      comment:
        "An import that does not resolve is a typo or a missing dependency. A page's script (src/*/public/) imports by URL what the app serves (/client/index.js).",
      severity: "error",
      from: {},
      to: { couldNotResolve: true, pathNot: "^/client/" },
    },
  ],
  options: {
    // swc keeps type-only imports (the `tsPreCompilationDeps` of the tsc parser, which needs the
    // TypeScript API that TypeScript 7.0 does not have).
    parser: "swc",
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "node", "default", "types"],
      mainFields: ["module", "main", "types", "typings"],
    },
    doNotFollow: { path: "node_modules" },
    // node_modules is not followed, but not excluded either: excluding a path drops the imports
    // of it too, and webhook-ledger-knows-no-sender must see an import of the stripe package.
    exclude: { path: "^(test|bench|scripts)/" },
    moduleSystems: ["es6"],
  },
};
