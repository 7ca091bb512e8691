// Bundles the builder and the runner into one file for the container images (docker/build/cicd.mjs).
// The images then need only Node.js: no npm install inside `docker build`, which works offline.
import { build } from "esbuild";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
await build({
  entryPoints: [path.join(root, "src/workload-cli.ts")],
  outfile: path.join(root, "docker/build/cicd.mjs"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: false,
  legalComments: "none",
  logLevel: "warning",
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
