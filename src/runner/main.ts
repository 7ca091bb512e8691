/**
 * `cicd runner`: the command line around BuildRunner. Parses flags, forwards SIGTERM/SIGINT to
 * the running build, and turns the result into the exit code.
 */
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { parseDuration } from "../shared/duration.js";
import { errorMessage, errors } from "../shared/errors.js";
import { exitWithParent } from "../shared/exit-with-parent.js";
import { createLogger, logLevelOf } from "../shared/logger.js";
import { BuildRunner, type BuildRunnerOptions } from "./build-runner.js";

export const runnerUsage = `Usage: cicd runner --dir DIR --command "java -jar {file}" [options]

Runs the newest good build of DIR/builds.json. A build that exits with an error is marked bad
and the next older good build starts; a build that exits without error ends the runner (0).
When no good build is left the runner stops with exit code 1 and names the builds it tried.

  --dir DIR                 the target folder in the service file system (builds.json + artifacts)
  --command CMD             run with sh -c; {file} becomes the artifact's quoted absolute path
  --artifact-pattern GLOB   run the first artifact matching GLOB (default: the first artifact)
  --pin KEY                 start with build KEY (if good) even when newer good builds exist;
                            builds listed after it at start are left out, older ones are the
                            fallback; with --watch, builds published later still take over
  --watch                   switch to a newer good build when one appears (SIGTERM, grace, SIGKILL)
  --wait                    when no good build is left (or none exists yet), wait for one
  --probation DURATION      a build failing after running longer than this is restarted with
                            back-off instead of marked bad (default: off, every failure marks bad)
  --max-crashes N           crashes past probation within --crash-window that mark it bad (5)
  --crash-window DURATION   (10m)
  --backoff DURATION        first restart delay, doubled each time (10s)
  --backoff-max DURATION    longest restart delay (5m)
  --backoff-reset DURATION  a run this long resets the delay (10m)
  --grace DURATION          time a build gets after SIGTERM before SIGKILL (10s)
  --poll DURATION           poll interval beside fs.watch for --watch and --wait (1s)
  --state-file FILE         keep the runner's state there as JSON (replaced atomically)
  --output FILE             keep the program's output there too (past 10 MB it moves to FILE.1)

SIGTERM and SIGINT are forwarded to the build; the runner exits 0 once it has stopped.
Exit codes: 0 build exited cleanly or stop requested · 1 no good build left or error · 2 bad usage.
`;

const options = {
  dir: { type: "string" },
  command: { type: "string" },
  "artifact-pattern": { type: "string" },
  pin: { type: "string" },
  watch: { type: "boolean" },
  wait: { type: "boolean" },
  probation: { type: "string" },
  "max-crashes": { type: "string" },
  "crash-window": { type: "string" },
  backoff: { type: "string" },
  "backoff-max": { type: "string" },
  "backoff-reset": { type: "string" },
  grace: { type: "string" },
  poll: { type: "string" },
  "state-file": { type: "string" },
  output: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Parses `cicd runner` flags into BuildRunner options; throws INVALID_ARGUMENT on bad input. */
export function parseRunnerArgs(argv: string[]): BuildRunnerOptions | "help" {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (error) {
    throw errors.invalidArgument("runner arguments", "known flags (see cicd runner --help)", errorMessage(error));
  }
  if (values.help) return "help";
  if (!values.dir) throw errors.invalidArgument("--dir", "the target folder that holds builds.json");
  if (!values.command) throw errors.invalidArgument("--command", 'a command containing {file}, e.g. "java -jar {file}"');
  const duration = (flag: keyof typeof values) => {
    const v = values[flag];
    return typeof v === "string" ? parseDuration(v, `--${flag}`) : undefined;
  };
  if (values.pin !== undefined && !values.pin.trim()) throw errors.invalidArgument("--pin", "a build key from builds.json", values.pin);
  const maxCrashes = values["max-crashes"] === undefined ? undefined : Number(values["max-crashes"]);
  if (maxCrashes !== undefined && (!Number.isInteger(maxCrashes) || maxCrashes < 1)) {
    throw errors.invalidArgument("--max-crashes", "a whole number of at least 1", values["max-crashes"]);
  }
  return {
    dir: values.dir,
    command: values.command,
    artifactPattern: values["artifact-pattern"],
    pin: values.pin,
    watch: values.watch ?? false,
    wait: values.wait ?? false,
    probationMs: duration("probation"),
    maxCrashes,
    crashWindowMs: duration("crash-window"),
    backoffBaseMs: duration("backoff"),
    backoffMaxMs: duration("backoff-max"),
    backoffResetMs: duration("backoff-reset"),
    graceMs: duration("grace"),
    pollMs: duration("poll"),
    stateFile: values["state-file"],
    outputFile: values.output,
  };
}

export async function runnerMain(argv: string[]): Promise<number> {
  // Started by a manager's local executor: end with it, never outlive it as an orphan.
  if (process.env.CICD_PARENT_PID) exitWithParent(Number(process.env.CICD_PARENT_PID));
  let runner: BuildRunner;
  try {
    const parsed = parseRunnerArgs(argv);
    if (parsed === "help") {
      process.stdout.write(runnerUsage);
      return 0;
    }
    // A mistyped --dir would otherwise read as "no good build"; with --wait it may appear later.
    if (!parsed.wait && !existsSync(parsed.dir)) throw errors.invalidArgument("--dir", "an existing folder", parsed.dir);
    runner = new BuildRunner({ ...parsed, logger: createLogger("runner", { level: logLevelOf(process.env.LOG_LEVEL) }) });
  } catch (error) {
    process.stderr.write(`cicd runner: ${errorMessage(error)} (cicd runner --help lists the options)\n`);
    return 2;
  }
  const forward = (signal: NodeJS.Signals) => runner.stop(signal);
  process.on("SIGTERM", forward);
  process.on("SIGINT", forward);
  try {
    const result = await runner.run();
    // result.error was logged already, as the runner's last decision: said once, not twice.
    return result.exitCode;
  } finally {
    process.off("SIGTERM", forward);
    process.off("SIGINT", forward);
  }
}
