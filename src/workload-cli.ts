/**
 * Entry point of the container bundle (docker/build/cicd.mjs): only the builder and the
 * runner, so the images carry neither the server nor its dependencies.
 */
import { builderMain } from "./builder/main.js";
import { runnerMain } from "./runner/main.js";

const [part, ...rest] = process.argv.slice(2);
const run = part === "builder" ? builderMain : part === "runner" ? runnerMain : undefined;
if (!run) {
  process.stderr.write(`cicd (container): expected "builder" or "runner", got "${part ?? ""}"\n`);
  process.exitCode = 1;
} else {
  run(rest).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`cicd ${part}: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
