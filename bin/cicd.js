#!/usr/bin/env node
// Thin launcher: the CLI lives in dist/cli.js (built by `npm run build`, run by `npm ci` via prepare).
import { main } from "../dist/cli.js";

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === "number") process.exitCode = code;
  },
  (error) => {
    console.error(`cicd: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
