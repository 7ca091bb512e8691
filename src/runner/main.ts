/**
 * `cicd runner`: the command line around BuildRunner. Parses flags, forwards SIGTERM/SIGINT to
 * the running build, and turns the result into the exit code.
 */
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { parseDuration } from "../shared/duration.js";
import { errorMessage, errors } from "../shared/errors.js";
import { exitWithParent } from "../shared/exit-with-parent.js";
import { createLogger, logLevelOf } from "../shared/logger.js";
import { assertTargetName } from "../shared/safe-path.js";
import { ApiBuildSource } from "./api-build-source.js";
import { BuildRunner, type BuildRunnerOptions } from "./build-runner.js";

export const runnerUsage = `Usage: cicd runner --dir DIR --command "java -jar {file}" [options]
       cicd runner --api URL --target NAME --command "java -jar {file}" [options]

Runs the newest good build of DIR/builds.json, or of target NAME of the cicd server at URL. A
build that exits with an error is marked bad and the next older good build starts; a build that
exits without error ends the runner (0). When no good build is left the runner stops with exit
code 1 and names the builds it tried.

  --dir DIR                 the target folder in the service file system (builds.json + artifacts)
  --api URL                 instead of --dir: the cicd server (e.g. https://cicd.example.com);
                            its API token comes from the environment variable CICD_API_TOKEN
                            (never a flag; the builds it runs do not get it). Artifacts are
                            downloaded into --cache-dir, checked against their size, and the
                            last 3 used are kept. While the server cannot be reached the
                            current build keeps running; a failing one still falls back to an
                            older build in the cache, and is marked bad on the server once it
                            answers again. The server is polled every --poll (backing off to
                            30s while it does not answer)
  --target NAME             with --api: the target whose builds to run
  --cache-dir DIR           with --api: where artifacts are kept (default
                            $XDG_CACHE_HOME/cicd/runner/NAME, else TMPDIR/cicd-runner-UID/NAME)
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
  --poll DURATION           poll interval beside fs.watch (or of the API) for --watch and --wait (1s)
  --state-file FILE         keep the runner's state there as JSON (replaced atomically)
  --output FILE             keep the program's output there too (past 10 MB it moves to FILE.1)

SIGTERM and SIGINT are forwarded to the build; the runner exits 0 once it has stopped.
Exit codes: 0 build exited cleanly or stop requested · 1 no good build left or error · 2 bad usage.
`;

const options = {
  dir: { type: "string" },
  api: { type: "string" },
  target: { type: "string" },
  "cache-dir": { type: "string" },
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

/** Where `--api` takes its builds from (the token is not here: runnerMain reads it from the environment). */
export interface ApiSourceArgs {
  /** The server's URL: http or https, no credentials, without a trailing `/` or `/api/v1`. */
  url: string;
  target: string;
  cacheDir: string;
}

export type RunnerArgs = BuildRunnerOptions & { api?: ApiSourceArgs };

/**
 * Parses `cicd runner` flags into BuildRunner options (with `--api`, the API to build the source
 * from); throws INVALID_ARGUMENT on bad input. `env` gives XDG_CACHE_HOME for the default cache.
 */
export function parseRunnerArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): RunnerArgs | "help" {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (error) {
    throw errors.invalidArgument("runner arguments", "known flags (see cicd runner --help)", errorMessage(error));
  }
  if (values.help) return "help";
  // One source of builds: the folder, or the API (two would disagree about which builds are bad).
  if (values.dir !== undefined && values.api !== undefined) {
    throw errors.invalidArgument("--dir", "left out when --api is given (builds come from the folder or from the API, not both)");
  }
  if (values.api === undefined) {
    if (!values.dir) throw errors.invalidArgument("--dir", "the target folder that holds builds.json (or give --api URL --target NAME instead)");
    for (const flag of ["target", "cache-dir"] as const) {
      if (values[flag] !== undefined) throw errors.invalidArgument(`--${flag}`, "given only with --api");
    }
  }
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
  let api: ApiSourceArgs | undefined;
  if (values.api !== undefined) {
    if (values.target === undefined) throw errors.invalidArgument("--target", "the name of the target whose builds to run (with --api)");
    const target = assertTargetName(values.target);
    const base = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? path.join(env.XDG_CACHE_HOME, "cicd", "runner") : path.join(tmpdir(), `cicd-runner-${process.getuid?.() ?? "user"}`);
    api = { url: apiUrl(values.api), target, cacheDir: path.resolve(values["cache-dir"] ?? path.join(base, target)) };
  }
  return {
    ...(api ? { api } : { dir: values.dir }),
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

/**
 * The server's base URL from `--api`: http or https, without credentials (the token comes from
 * CICD_API_TOKEN only, and a URL is printed in messages), a trailing `/` or `/api/v1` dropped.
 */
function apiUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw errors.invalidArgument("--api", "the server's http or https URL, e.g. https://cicd.example.com", value);
  }
  // Not echoed: the part before @ may be a password.
  if (url.username || url.password) throw errors.invalidArgument("--api", "a URL without a user name or password (the token comes from CICD_API_TOKEN)");
  if (url.protocol !== "http:" && url.protocol !== "https:") throw errors.invalidArgument("--api", "an http or https URL", value);
  if (url.search || url.hash) throw errors.invalidArgument("--api", "a URL without ?query or #fragment", value);
  return `${url.origin}${url.pathname.replace(/\/+$/, "").replace(/\/api\/v1$/, "")}`;
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
    const level = logLevelOf(process.env.LOG_LEVEL);
    const { api, ...options } = parsed;
    if (api) {
      const token = process.env.CICD_API_TOKEN?.trim();
      if (!token) throw errors.invalidArgument("CICD_API_TOKEN", "set in the environment to the server's API token when --api is given (it is never a flag)");
      // The token is masked in every line, should a message ever carry it.
      const logger = createLogger("runner", { level, secrets: [token] });
      const source = new ApiBuildSource({ ...api, token, logger });
      // The builds run here are programs of the repository: they get the runner's environment,
      // but not the manager's API token.
      const { CICD_API_TOKEN: _token, ...env } = process.env;
      runner = new BuildRunner({ ...options, dir: undefined, source, env, logger });
    } else {
      // A mistyped --dir would otherwise read as "no good build"; with --wait it may appear later.
      if (!parsed.wait && !existsSync(parsed.dir!)) throw errors.invalidArgument("--dir", "an existing folder", parsed.dir);
      runner = new BuildRunner({ ...options, logger: createLogger("runner", { level }) });
    }
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
