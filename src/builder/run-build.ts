import { chmod, mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import path from "node:path";
import { formatDuration } from "../shared/duration.js";
import { CicdError, errorMessage, errors, isCicdError } from "../shared/errors.js";
import { assertTargetName } from "../shared/safe-path.js";
import { assertBuildKey } from "./build-key.js";
import { BuildLog } from "./build-log.js";
import { collectArtifacts } from "./collect-artifacts.js";
import { handOver, makeReachable, type CommandUser } from "./command-user.js";
import { trustEnv } from "./trust-bundle.js";
import { fetchSource } from "./fetch-source.js";
import { KeptTreeProblem, withKeptWorkTree, type KeptWorkTree } from "./kept-work-tree.js";
import { basicHeader, tokenCredentials } from "./git-fetch.js";
import type { GitCache } from "./mirror-location.js";
import { servicefsPublisher, type Publisher } from "./publisher.js";
import type { ArtifactUpload, BuildPhases, CommandResult } from "../shared/protocol.js";
import { runCommands } from "./run-commands.js";
import { baseEnv } from "./run-process.js";
import { parseSource } from "./source-url.js";

/** One build, as the manager's BuildRequest or the builder's flags describe it. */
export interface BuildSpec {
  key: string;
  target: string;
  url: string;
  ref?: string;
  sha?: string;
  commands: string[];
  artifacts: string[];
  token?: string;
  /** Secrets for the commands; every value is masked. */
  env?: Record<string, string>;
  /** The target's plain environment (`env` of cicd.yml: proxies, settings): for the fetch and the commands, not masked. */
  vars?: Record<string, string>;
  /** Extra CA certificates (PEM) the fetch and the commands trust besides the system's. */
  caCertificates?: string;
  /** More values to mask. */
  mask?: string[];
  /** Extra fields for the builds.json record (never secrets). */
  meta?: Record<string, string | number | boolean | null>;
}

/** Where and how builds run; the same for every build of one builder. */
export interface BuildEnvironment {
  /** Root of the service file system: where `servicefs://` sources are read (and, by default, where good builds publish). */
  servicefs: string;
  /** Where a good build's files go (default: publish into `servicefs` directly). */
  publisher?: Publisher;
  /**
   * Run the commands as this user. The workspace and a home folder of their own are handed to
   * it after the fetch; the builder keeps its tokens, the mirror and its log to itself.
   */
  user?: CommandUser;
  /** Folders kept between builds (the target's caches) that the commands must be able to write. */
  cacheDirs?: string[];
  workdir: string;
  /** Where the build's log file is kept; without it the log goes to the console only. */
  logDir?: string;
  /** Bare mirrors of git sources kept between builds (`--git-cache` / `--git-mirror`). */
  gitCache?: GitCache;
  /**
   * The target's kept work tree (`--keep-workspace DIR`, kept-work-tree.ts): a remote git source
   * is checked out there over the last build's tree instead of into an empty one. Needs the git
   * cache (its objects come from the mirror); without it, or for other sources, unused.
   */
  keptWorkspace?: string;
  /** Console sink for the build's (masked) output; default: stdout. */
  out?: (text: string) => void;
  signal?: AbortSignal;
  /**
   * Told the outcome as soon as it is final, before the workspace is removed: removing a large
   * clone (node_modules, target/) can take seconds, and whoever waits for the result need not.
   */
  onOutcome?: (outcome: BuildOutcome) => void;
}

export interface BuildOutcome {
  ok: boolean;
  key: string;
  target: string;
  commit: string | null;
  ref: string | null;
  durationMs: number;
  /** Published file names (success only). */
  artifacts: string[];
  sizes: Record<string, number>;
  /** The files sent to the manager (builders started by a manager). */
  uploads?: ArtifactUpload[];
  commands: CommandResult[];
  /** Where the time went: the fetch, the commands, collecting and sending the files. */
  phases: BuildPhases;
  /** 0 on success; the failed command's exit code, or null when no command failed. */
  exitCode: number | null;
  /** Masked, for people: why the build failed. */
  reason?: string;
  failedCommand?: number;
  error?: CicdError;
  logFile?: string;
}


/**
 * Runs one build from an empty workspace: fetch, commands, artifacts, publish. Never throws for a
 * failed build: the outcome says why. Only a build whose every command passed and whose every
 * artifact pattern matched is published; the workspace is removed afterwards, the log kept.
 */
export async function runBuild(spec: BuildSpec, environment: BuildEnvironment): Promise<BuildOutcome> {
  assertBuildKey(spec.key);
  assertTargetName(spec.target);
  if (environment.keptWorkspace && environment.gitCache && isRemoteGit(spec.url)) {
    return withKeptWorkTree(environment.keptWorkspace, environment.user, (kept, note) => runIn(spec, environment, kept, note));
  }
  return runIn(spec, environment);
}

/** runBuild in the kept work tree when given one, else in an empty workspace of its own. */
async function runIn(spec: BuildSpec, environment: BuildEnvironment, keptTree?: KeptWorkTree, note?: string): Promise<BuildOutcome> {
  let kept = keptTree;
  const started = Date.now();
  const log = await BuildLog.open(environment.logDir, spec.key, secretsOf(spec), environment.out ?? ((t) => void process.stdout.write(t)));
  let buildDir: string | undefined;
  const outcome = failedOutcome(spec, log.file);
  let killLeftovers = () => {};
  try {
    log.line(`cicd builder: build ${spec.key} of target ${spec.target}`);
    if (note) log.line(note);
    await mkdir(environment.workdir, { recursive: true });
    buildDir = await mkdtemp(path.join(environment.workdir, `cicd-${spec.key}-`));
    // The commands' user may pass through (to its workspace and home) but not list or write it.
    await chmod(buildDir, 0o711);
    let workspace = kept?.workTree ?? path.join(buildDir, "workspace");
    const home = path.join(buildDir, "home");
    if (!kept) await mkdir(workspace);
    await mkdir(home);
    // The target's environment and CAs apply to the fetch too (a proxy, a company's git server).
    const extraEnv = { ...spec.vars, ...(spec.caCertificates ? await trustEnv(buildDir, spec.caCertificates) : {}) };
    let phaseStart = Date.now();
    const fetch = () => fetchSource({ url: spec.url, ref: spec.ref, sha: spec.sha, token: spec.token, workspace, configDir: buildDir!, servicefs: environment.servicefs, gitCache: environment.gitCache, kept, log, signal: environment.signal, env: extraEnv });
    const { commit } = await fetch().catch(async (error: unknown) => {
      if (!kept || !(error instanceof KeptTreeProblem)) throw error;
      log.line(`note: the kept work tree could not be used (${log.mask(error.message)}); this build checks out a fresh tree`);
      kept = undefined;
      workspace = path.join(buildDir!, "workspace");
      await mkdir(workspace);
      return fetch();
    });
    outcome.commit = commit;
    outcome.phases.fetchMs = Date.now() - phaseStart;
    phaseStart = Date.now();
    await prepareForCommands(environment, kept ? [home] : [workspace, home], [...(kept ? [workspace] : []), ...(environment.cacheDirs ?? [])], environment.signal);
    const env = commandEnv(spec, commit, workspace, environment.user ? home : undefined, extraEnv);
    const ran = await runCommands(spec.commands, { cwd: workspace, env, log, signal: environment.signal, user: environment.user });
    killLeftovers = ran.killLeftovers;
    outcome.phases.commandsMs = Date.now() - phaseStart;
    outcome.commands = ran.results.map((r) => ({ ...r, command: log.mask(r.command) }));
    if (environment.signal?.aborted) throw errors.cancelled(`Build ${spec.key}`);
    if (ran.error) {
      outcome.failedCommand = ran.failedCommand;
      outcome.exitCode = ran.results.at(-1)?.exitCode ?? null;
      throw ran.error;
    }
    // Nothing the commands started may still change the files while they are collected and sent.
    killLeftovers();
    phaseStart = Date.now();
    const files = await collectArtifacts(workspace, spec.artifacts);
    const publish = environment.publisher ?? servicefsPublisher(environment.servicefs);
    const published = await publish({ key: spec.key, target: spec.target, commit, ref: spec.ref ?? null, durationMs: Date.now() - started, files, meta: spec.meta }, environment.signal);
    Object.assign(outcome, { ok: true, exitCode: 0, artifacts: published.artifacts, sizes: published.sizes, uploads: published.uploads });
    outcome.phases.publishMs = Date.now() - phaseStart;
    log.line(`published ${published.artifacts.join(", ")} to ${published.where}`);
  } catch (error) {
    outcome.error = isCicdError(error) ? error : new CicdError("INTERNAL", log.mask(errorMessage(error)));
    outcome.reason = log.mask(outcome.error.message);
    // Stopped from outside (SIGTERM: the container or its engine is going away) in any phase,
    // the fetch too: the build did not fail, it was cut short, and the manager tries it again.
    if (environment.signal?.aborted && !isCicdError(error, "CANCELLED")) outcome.error = errors.cancelled(`Build ${spec.key}`);
  } finally {
    killLeftovers();
    outcome.durationMs = Date.now() - started;
    log.line(outcome.ok
      ? `build ${spec.key} succeeded in ${formatDuration(outcome.durationMs)}`
      : `build ${spec.key} failed after ${formatDuration(outcome.durationMs)}: ${outcome.reason}`);
    environment.onOutcome?.(outcome);
    if (buildDir) await rm(buildDir, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
    await log.close();
  }
  return outcome;
}

/** A remote git repository (what the git cache, and so the kept work tree, serves). */
function isRemoteGit(url: string): boolean {
  try {
    return parseSource(url).kind === "git";
  } catch {
    return false;
  }
}

/** The outcome of a build that failed before anything ran; runBuild fills it in as it goes. */
export function failedOutcome(spec: BuildSpec, logFile?: string): BuildOutcome {
  return {
    ok: false, key: spec.key, target: spec.target, commit: null, ref: spec.ref ?? null, durationMs: 0,
    artifacts: [], sizes: {}, commands: [], phases: {}, exitCode: null, logFile,
  };
}

/**
 * Hands the fresh workspace, the home folder, the target's caches and the kept work tree to
 * the commands' user (when it is not the builder's). Those in `kept` (caches, the kept tree)
 * that already belong to that user are left as they are: handing a large folder over again on
 * every build would cost seconds.
 */
async function prepareForCommands(environment: BuildEnvironment, fresh: string[], kept: string[], signal?: AbortSignal): Promise<void> {
  const user = environment.user;
  if (!user) return;
  const handed = [...fresh];
  for (const dir of kept) {
    const info = await stat(dir).catch(() => undefined);
    if (!info) continue;
    await makeReachable(dir);
    if (info.uid !== user.uid) handed.push(dir);
  }
  await handOver(handed, user, signal);
}

/** A minimal env: the builder's basics, the build's secrets, then what cicd tells every build. */
function commandEnv(spec: BuildSpec, commit: string | null, workspace: string, home: string | undefined, extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    ...baseEnv(),
    ...extra,
    ...spec.env,
    ...(home ? { HOME: home, USER: "cicd", LOGNAME: "cicd" } : {}),
    CI: "true",
    CICD: "true",
    CICD_BUILD_KEY: spec.key,
    CICD_TARGET: spec.target,
    CICD_COMMIT: commit ?? "",
    CICD_REF: spec.ref ?? "",
    CICD_WORKSPACE: workspace,
  };
}

/** Every value the build's output must never show, including the forms git sends. */
export function secretsOf(spec: BuildSpec): string[] {
  const values = [...Object.values(spec.env ?? {}), ...(spec.mask ?? [])];
  const credentials: string[] = [];
  if (spec.token) credentials.push(tokenCredentials(spec.token));
  try {
    const source = parseSource(spec.url);
    if (source.kind === "git" && source.credentials) credentials.push(source.credentials);
  } catch {
    // A bad URL fails the fetch with its own (redacted) message.
  }
  for (const c of credentials) values.push(c, basicHeader(c).slice("Basic ".length), c.slice(c.indexOf(":") + 1));
  if (spec.token) values.push(spec.token);
  return values.filter((v) => v.length > 0);
}
