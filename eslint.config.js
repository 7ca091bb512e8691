// One lint config for src, test, bench and scripts. Type-aware rules stay off so lint stays fast;
// `npm run typecheck` covers types.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "docker/build/", "data/", "coverage/", "test-results/", "bench/.build-*/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: "readonly", console: "readonly", Buffer: "readonly", URL: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly", AbortController: "readonly", AbortSignal: "readonly", fetch: "readonly", Response: "readonly", Request: "readonly", Headers: "readonly", TextEncoder: "readonly", TextDecoder: "readonly", setImmediate: "readonly", structuredClone: "readonly", queueMicrotask: "readonly" } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-restricted-imports": "off",
    },
  },
  // cicd talks to the Docker Engine API itself (src/executor/docker/engine-client.ts); dockerode
  // cost the manager ~29 MB of memory. This block comes before the folder rules below: a later
  // block's options for the same rule replace, not extend, an earlier one's.
  {
    files: ["src/**", "test/**", "bench/**", "scripts/**"],
    rules: {
      "no-restricted-imports": ["error", { paths: [{ name: "dockerode", message: "Use src/executor/docker/engine-client.ts: dockerode is not a dependency." }] }],
    },
  },
  // Which folder may import which (docs/architecture.md). builder/ and runner/ run inside
  // containers: they must not pull in the manager, the store, executors or GitHub code.
  {
    files: ["src/builder/**", "src/runner/**", "src/servicefs/**", "src/shared/**", "src/config/**"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [
        { group: ["**/manager/**", "**/store/**", "**/executor/**", "**/github/**", "**/handlers/**", "**/api/**", "**/server/**"], message: "builder/, runner/, servicefs/, config/ and shared/ must not import the server side (docs/architecture.md)." },
        { group: ["dockerode", "probot", "better-sqlite3", "express"], message: "Only store (better-sqlite3), github/handlers (probot) and api/server (express) may import these; nothing imports dockerode." },
      ] }],
    },
  },
);
