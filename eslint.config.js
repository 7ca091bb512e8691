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
  // cost the manager ~29 MB of memory. Which folder may import which is checked by
  // scripts/check-imports.ts (`npm run imports`), with the table of docs/architecture.md.
  {
    files: ["src/**", "test/**", "bench/**", "scripts/**"],
    rules: {
      "no-restricted-imports": ["error", { paths: [{ name: "dockerode", message: "Use src/executor/docker/engine-client.ts: dockerode is not a dependency." }] }],
    },
  },
);
