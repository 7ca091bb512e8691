import { homedir, tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { errors, errorMessage } from "../shared/errors.js";
import { assertTargetName, COMMIT_SHA } from "../shared/safe-path.js";
import { newBuildKey, assertBuildKey } from "./build-key.js";
import { parseCommandUser, type CommandUser } from "./command-user.js";
import type { GitCache } from "./mirror-location.js";
import { parseSource, redact } from "./source-url.js";

/** Everything `cicd builder` can be told, from flags or the environment. */
export interface BuilderOptions {
  url?: string;
  commands: string[];
  artifacts: string[];
  token?: string;
  runOnStartup: boolean;
  servicefs: string;
  target?: string;
  port: number;
  host: string;
  ref?: string;
  sha?: string;
  key: string;
  secretsFile?: string;
  managerUrl?: string;
  managerToken?: string;
  builderId: string;
  workdir: string;
  logDir: string;
  /** `--git-mirror DIR` (this repository's own folder) wins over `--git-cache DIR`. */
  gitCache?: GitCache;
  /**
   * `--max-builds N`: serve up to N builds one after another for the manager that started this
   * builder, saying `ready` again after each; then, or after a minute and a half idle, or when
   * the manager did not hear of a build's end, exit. Undefined: `--once`, or serve on for ever.
   */
  maxBuilds?: number;
  /** `--keep-workspace DIR`: the target's kept work tree (kept-work-tree.ts). */
  keepWorkspace?: string;
  once: boolean;
  /**
   * `servicefs`: publish good builds into the service file system (the standalone builder).
   * `manager`: send them to the manager (`--manager-url`), which publishes them.
   */
  publishTo: "servicefs" | "manager";
  /** `--user UID[:GID]`: run the build's commands as this user (the builder must be root). */
  user?: CommandUser;
  /** `--cache-dir DIR`: the target's cache folders, handed to the commands' user. */
  cacheDirs: string[];
  /**
   * `--isolate-network`: before taking a build, shut this container's network off from private
   * and link-local addresses, the host (`--deny-net`) and the manager (except for this builder's
   * own callbacks). For untrusted builds; needs iptables and CAP_NET_ADMIN.
   */
  isolateNetwork: boolean;
  denyNets: string[];
  /** `--fetch-build`: fetch the build from the manager after `ready` (builders it cannot connect to). */
  fetchBuild: boolean;
  help: boolean;
}

const stringFlags = [
  "url", "token", "servicefs", "target", "port", "ref", "sha", "key", "secrets",
  "manager-url", "manager-token", "builder-id", "workdir", "log-dir", "host", "git-cache", "git-mirror",
  "keep-workspace", "publish-to", "user", "max-builds",
] as const;

/** Parses argv (flags win) over env (`CICD_*`). Throws INVALID_ARGUMENT naming the flag. */
export function parseBuilderOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): BuilderOptions {
  const negated = new Set<string>();
  const parsed = parseFlags(normaliseBooleans(argv, negated));
  const values = parsed.values as Record<string, string | string[] | boolean | undefined>;
  const positionals = parsed.positionals;
  if (positionals.length) throw errors.invalidArgument("arguments", "flags only (see cicd builder --help)", positionals[0]);
  const str = (flag: (typeof stringFlags)[number]): string | undefined => {
    const value = (values[flag] as string | undefined) ?? env[`CICD_${flag.toUpperCase().replace(/-/g, "_")}`];
    return value === undefined || value === "" ? undefined : value;
  };
  const list = (flag: "command" | "artifact" | "cache-dir" | "deny-net"): string[] => {
    const given = values[flag] as string[] | undefined;
    return given?.length ? given : splitEnvList(env[`CICD_${flag.toUpperCase().replace(/-/g, "_")}`], flag);
  };
  const workdir = path.resolve(str("workdir") ?? tmpdir());
  const servicefs = str("servicefs");
  if (values.help) return { help: true } as BuilderOptions;
  const publishTo = str("publish-to") ?? "servicefs";
  if (publishTo !== "servicefs" && publishTo !== "manager") throw errors.invalidArgument("--publish-to", "servicefs or manager", publishTo);
  if (!servicefs && publishTo === "servicefs") throw errors.invalidArgument("--servicefs", "the root folder of the service file system (or CICD_SERVICEFS)");

  const options: BuilderOptions = {
    url: optional(str("url"), checkSourceUrl),
    commands: list("command"),
    artifacts: list("artifact"),
    token: str("token"),
    runOnStartup: flagBool(values["run-on-startup"], negated.has("run-on-startup"), env.CICD_RUN_ON_STARTUP, "CICD_RUN_ON_STARTUP"),
    servicefs: servicefs ? path.resolve(servicefs) : "",
    target: optional(str("target"), (t) => assertTargetName(t)),
    port: parsePort(str("port") ?? "0"),
    host: str("host") ?? "0.0.0.0",
    ref: str("ref"),
    sha: optional(str("sha"), (s) => {
      if (!COMMIT_SHA.test(s)) throw errors.invalidArgument("--sha", "a commit sha (7-64 hex digits)", s);
      return s.toLowerCase();
    }),
    key: optional(str("key"), assertBuildKey) ?? newBuildKey(),
    secretsFile: optional(str("secrets"), (f) => path.resolve(f)),
    managerUrl: optional(str("manager-url"), checkHttpUrl),
    managerToken: str("manager-token"),
    builderId: str("builder-id") ?? `builder-${process.pid}`,
    workdir,
    logDir: path.resolve(str("log-dir") ?? path.join(workdir, "cicd-logs")),
    gitCache: gitCacheOf(str("git-mirror"), str("git-cache")),
    keepWorkspace: optional(str("keep-workspace"), (d) => path.resolve(d)),
    maxBuilds: optional(str("max-builds"), (n) => {
      if (!/^\d+$/.test(n) || Number(n) < 1 || Number(n) > 1000) throw errors.invalidArgument("--max-builds", "a number of builds from 1 to 1000", n);
      return Number(n);
    }),
    once: flagBool(values.once, negated.has("once"), env.CICD_ONCE, "CICD_ONCE"),
    publishTo,
    user: optional(str("user"), parseCommandUser),
    cacheDirs: list("cache-dir").map((d) => path.resolve(d)),
    isolateNetwork: flagBool(values["isolate-network"], false, env.CICD_ISOLATE_NETWORK, "CICD_ISOLATE_NETWORK"),
    denyNets: list("deny-net"),
    fetchBuild: flagBool(values["fetch-build"], false, env.CICD_FETCH_BUILD, "CICD_FETCH_BUILD"),
    help: false,
  };
  if (options.maxBuilds !== undefined && (options.once || !options.managerUrl || options.runOnStartup)) {
    // A builder that runs a build at start serves that one only.
    throw errors.invalidArgument("--max-builds", "used with --manager-url, and without --once or --run-on-startup", String(options.maxBuilds));
  }
  if (options.runOnStartup) requireBuildFlags(options);
  if ((publishTo === "manager" || options.fetchBuild) && (!options.managerUrl || !options.managerToken)) {
    if (options.fetchBuild && publishTo !== "manager") throw errors.invalidArgument("--fetch-build", "used with --manager-url and --manager-token");
    throw errors.invalidArgument("--publish-to manager", "used with --manager-url and --manager-token");
  }
  return options;
}

function parseFlags(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        ...Object.fromEntries(stringFlags.map((f) => [f, { type: "string" as const }])),
        command: { type: "string", multiple: true },
        artifact: { type: "string", multiple: true },
        "cache-dir": { type: "string", multiple: true },
        "deny-net": { type: "string", multiple: true },
        "isolate-network": { type: "boolean" },
        "fetch-build": { type: "boolean" },
        "run-on-startup": { type: "boolean" },
        once: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw errors.invalidArgument("flags", `valid options (see cicd builder --help): ${errorMessage(error)}`);
  }
}

/**
 * `--run-on-startup=false` and `--no-run-on-startup` are how users write "serve"; parseArgs
 * knows neither, so they are taken out here and remembered in `negated`.
 */
function normaliseBooleans(argv: string[], negated: Set<string>): string[] {
  const out: string[] = [];
  for (const arg of argv) {
    const m = /^--(run-on-startup|once)=(.*)$/.exec(arg) ?? /^--no-(run-on-startup|once)()$/.exec(arg);
    if (!m) out.push(arg);
    else if (m[2] !== "" && envBool(m[2], `--${m[1]}`)) out.push(`--${m[1]}`);
    else negated.add(m[1]!);
  }
  return out;
}

/** A flag given (either way) wins over the environment. */
function flagBool(flag: unknown, negated: boolean, envValue: string | undefined, envName: string): boolean {
  if (flag === true) return true;
  if (negated) return false;
  return envBool(envValue, envName);
}

function envBool(value: string | undefined, name: string): boolean {
  if (value === undefined || value === "") return false;
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw errors.invalidArgument(name, "true or false", value);
}

function splitEnvList(value: string | undefined, name: string): string[] {
  if (!value?.trim()) return [];
  if (value.trim().startsWith("[")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = undefined;
    }
    if (!Array.isArray(parsed) || !parsed.every((v) => typeof v === "string" && v)) {
      throw errors.invalidArgument(`CICD_${name.toUpperCase()}`, "a JSON array of non-empty strings");
    }
    return parsed as string[];
  }
  return value.split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
}

function optional<T>(value: string | undefined, check: (v: string) => T): T | undefined {
  return value === undefined ? undefined : check(value);
}

function gitCacheOf(mirror: string | undefined, cache: string | undefined): GitCache | undefined {
  if (mirror) return { mirrorDir: path.resolve(mirror) };
  return cache ? { dir: path.resolve(cache) } : undefined;
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) throw errors.invalidArgument("--port", "a port number from 0 to 65535", text);
  return port;
}

/**
 * `--url` is checked before anything starts: a plain path is the likeliest mistake, and the
 * answer (write file://…) is said at once rather than after the builder has set up.
 */
function checkSourceUrl(text: string): string {
  try {
    parseSource(text);
    return text;
  } catch {
    if (/^(\/|\.{1,2}(\/|$)|~)/.test(text.trim())) {
      const abs = path.resolve(text.trim().replace(/^~(?=\/|$)/, homedir()));
      throw errors.invalidArgument("--url", `a URL; for a folder or repository on this machine write file://${abs}`, text);
    }
    throw errors.invalidArgument("--url", "a source URL: https://… or ssh://… or git@host:path (git), file://PATH, files://PATH or servicefs://PATH", redact(text));
  }
}

function checkHttpUrl(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || !/^https?:$/.test(url.protocol)) throw errors.invalidArgument("--manager-url", "an http(s) URL", text);
  return text;
}

function requireBuildFlags(o: BuilderOptions): void {
  const when = "with --run-on-startup";
  if (!o.url) throw errors.invalidArgument("--url", `a source URL ${when}`);
  if (!o.commands.length) throw errors.invalidArgument("--command", `at least one build command ${when}`);
  if (!o.artifacts.length) throw errors.invalidArgument("--artifact", `at least one artifact pattern ${when}`);
  if (!o.target) throw errors.invalidArgument("--target", `a target name ${when}`);
}
