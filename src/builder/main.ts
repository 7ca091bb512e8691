import { parseDuration } from "../shared/duration.js";
import { errorMessage } from "../shared/errors.js";
import { exitWithParent } from "../shared/exit-with-parent.js";
import { createLogger, logLevelOf, type Logger } from "../shared/logger.js";
import { readSecretsFile } from "../shared/read-secrets.js";
import { Broadcaster, type BroadcasterOptions } from "./broadcaster.js";
import { BuilderSession } from "./builder-session.js";
import { assertCanSwitchTo } from "./command-user.js";
import { isolateNetwork } from "./isolate-network.js";
import { managerPublisher } from "./publisher.js";
import { parseBuilderOptions, type BuilderOptions } from "./options.js";
import { builderUsage } from "./usage.js";
import { serveBuilds } from "./serve-builds.js";

export interface BuilderDeps {
  env?: NodeJS.ProcessEnv;
  log?: Logger;
  /** Console sink for build output (default stdout). */
  out?: (text: string) => void;
  /** Back-off settings of the broadcasts (tests shorten them). */
  broadcast?: Pick<BroadcasterOptions, "initialDelayMs" | "maxDelayMs" | "giveUpAfterMs">;
}

/** What the flags, the environment and the secrets file say, read and checked once. */
interface Setup {
  options: BuilderOptions;
  secrets: Record<string, string>;
  giveUpAfterMs?: number;
}

/**
 * `cicd builder …`. Exit codes: 0 the build succeeded (or serving ended normally), 1 the build
 * failed (or the network could not be isolated), 2 bad flags or secrets file. The steps:
 *  1. read the flags, the environment and the secrets;
 *  2. isolate the network (untrusted builds);
 *  3. make the session (broadcaster, where builds publish, the commands' user);
 *  4. build at once (--run-on-startup) or serve.
 */
export async function builderMain(argv: string[], deps: BuilderDeps = {}): Promise<number> {
  const env = deps.env ?? process.env;
  // Started by a manager's local executor: end with it, never outlive it as an orphan.
  if (env.CICD_PARENT_PID) exitWithParent(Number(env.CICD_PARENT_PID));
  const log = deps.log ?? createLogger("builder", { level: logLevelOf(env.LOG_LEVEL) });
  const setup = await readSetup(argv, env);
  if (typeof setup === "number") return setup;
  if (setup.options.isolateNetwork && !(await isolate(setup.options, log))) return 1;
  const { session, broadcaster } = makeSession(setup, deps, log);
  return setup.options.runOnStartup ? buildOnce(setup.options, session, broadcaster) : serve(setup.options, session, broadcaster, log);
}

/** Step 1: the setup, or the exit code when there is nothing more to do (help, bad flags). */
async function readSetup(argv: string[], env: NodeJS.ProcessEnv): Promise<Setup | number> {
  try {
    const options = parseBuilderOptions(argv, env);
    if (options.help) {
      process.stdout.write(builderUsage);
      return 0;
    }
    const secrets = options.secretsFile ? await readSecretsFile(options.secretsFile) : {};
    assertCanSwitchTo(options.user);
    const giveUpAfterMs = env.CICD_BROADCAST_GIVE_UP ? parseDuration(env.CICD_BROADCAST_GIVE_UP, "CICD_BROADCAST_GIVE_UP") : undefined;
    return { options, secrets, giveUpAfterMs };
  } catch (error) {
    process.stderr.write(`cicd builder: ${errorMessage(error)}\n`);
    return 2;
  }
}

/** Step 2: the network closed to the commands; false (said on stdout) when it could not be. */
async function isolate(options: BuilderOptions, log: Logger): Promise<boolean> {
  try {
    await isolateNetwork(options.denyNets);
    log.info("network isolated for an untrusted build");
    return true;
  } catch (error) {
    // Said on stdout: the manager shows a builder's early output in the build's log.
    process.stdout.write(`cicd builder: ${errorMessage(error)}\n`);
    return false;
  }
}

/** Step 3: the session that runs builds, and the broadcaster that tells the manager. */
function makeSession({ options, secrets, giveUpAfterMs }: Setup, deps: BuilderDeps, log: Logger): { session: BuilderSession; broadcaster: Broadcaster } {
  const giveUp = giveUpAfterMs === undefined ? {} : { giveUpAfterMs };
  const broadcaster = new Broadcaster({ url: options.managerUrl, token: options.managerToken, log: log.child("broadcast"), ...giveUp, ...deps.broadcast });
  const session = new BuilderSession({
    builderId: options.builderId,
    environment: {
      servicefs: options.servicefs,
      workdir: options.workdir,
      // A builder the manager started: the manager keeps the build's log; one copy is enough.
      logDir: options.managerUrl ? undefined : options.logDir,
      gitCache: options.gitCache,
      keptWorkspace: options.keepWorkspace,
      out: deps.out,
      user: options.user,
      cacheDirs: options.cacheDirs,
      ...(options.publishTo === "manager"
        ? { publisher: managerPublisher({ managerUrl: options.managerUrl!, token: options.managerToken!, builderId: options.builderId, ...giveUp }) }
        : {}),
    },
    broadcaster,
    defaults: { token: options.token, secrets, mask: [options.managerToken ?? ""], ref: options.ref, sha: options.sha },
    log,
    once: options.once,
  });
  return { session, broadcaster };
}

/** Step 4, `--run-on-startup`: one build from the flags; 0 when it succeeded. */
async function buildOnce(options: BuilderOptions, session: BuilderSession, broadcaster: Broadcaster): Promise<number> {
  const answer = session.start(
    session.specFor({ key: options.key, target: options.target!, url: options.url!, commands: options.commands, artifacts: options.artifacts }),
  );
  if (!answer.accepted) return 1;
  const release = onSignals(() => session.abort());
  try {
    const outcome = await answer.done;
    await broadcaster.drain();
    return outcome.ok ? 0 : 1;
  } finally {
    release();
  }
}

/** Step 4, otherwise: serve `POST /build` until closed (or after one build, with `--once`). */
async function serve(options: BuilderOptions, session: BuilderSession, broadcaster: Broadcaster, log: Logger): Promise<number> {
  let handle: Awaited<ReturnType<typeof serveBuilds>>;
  try {
    handle = await serveBuilds({ session, broadcaster, builderId: options.builderId, host: options.host, port: options.port, token: options.managerToken, once: options.once, maxBuilds: options.maxBuilds, log,
      ...(options.fetchBuild ? { fetchFrom: { managerUrl: options.managerUrl!, token: options.managerToken! } } : {}) });
  } catch (error) {
    process.stderr.write(`cicd builder: could not listen on ${options.host}:${options.port}: ${errorMessage(error)}\n`);
    return 1;
  }
  const release = onSignals(() => void handle.close());
  try {
    return await handle.finished;
  } finally {
    release();
  }
}

/** SIGTERM/SIGINT stop the build (the container or process is being stopped). */
function onSignals(handler: () => void): () => void {
  const signals: NodeJS.Signals[] = ["SIGTERM", "SIGINT"];
  for (const s of signals) process.on(s, handler);
  return () => signals.forEach((s) => process.off(s, handler));
}
