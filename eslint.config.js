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
  // Only src/executor/ talks to Docker (through dockerode); the rest of src/ reaches it through
  // the Executor contract. Which folder may import which is checked by scripts/check-imports.ts
  // (`npm run imports`), with the table of docs/architecture.md.
  {
    files: ["src/**"],
    ignores: ["src/executor/**"],
    rules: {
      "no-restricted-imports": ["error", { paths: [{ name: "dockerode", message: "Only src/executor/ talks to Docker: use the Executor contract (src/executor/types.ts)." }] }],
    },
  },
);
