import { parseDuration } from "../shared/duration.js";
import { errorMessage } from "../shared/errors.js";
import { exitWithParent } from "../shared/exit-with-parent.js";
import { createLogger, type Logger } from "../shared/logger.js";
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

/**
 * `cicd builder …`. Exit codes: 0 the build succeeded (or serving ended normally), 1 the build
 * failed (or the network could not be isolated), 2 bad flags or secrets file.
 *  1. parse flags and env; 2. read the secrets; 3. isolate the network (untrusted builds);
 *  4. build at once (--run-on-startup) or serve.
 */
export async function builderMain(argv: string[], deps: BuilderDeps = {}): Promise<number> {
  const env = deps.env ?? process.env;
  // Started by a manager's local executor: end with it, never outlive it as an orphan.
  if (env.CICD_PARENT_PID) exitWithParent(Number(env.CICD_PARENT_PID));
  const log = deps.log ?? createLogger("builder");
  let options: BuilderOptions;
  let secrets: Record<string, string>;
  let giveUpAfterMs: number | undefined;
  try {
    options = parseBuilderOptions(argv, env);
    if (options.help) {
      process.stdout.write(builderUsage);
      return 0;
    }
    secrets = options.secretsFile ? await readSecretsFile(options.secretsFile) : {};
    assertCanSwitchTo(options.user);
    giveUpAfterMs = env.CICD_BROADCAST_GIVE_UP ? parseDuration(env.CICD_BROADCAST_GIVE_UP, "CICD_BROADCAST_GIVE_UP") : undefined;
  } catch (error) {
    process.stderr.write(`cicd builder: ${errorMessage(error)}\n`);
    return 2;
  }

  if (options.isolateNetwork) {
    try {
      await isolateNetwork(options.denyNets);
      log.info("network isolated for an untrusted build");
    } catch (error) {
      // Said on stdout: the manager shows a builder's early output in the build's log.
      process.stdout.write(`cicd builder: ${errorMessage(error)}\n`);
      return 1;
    }
  }

  const broadcaster = new Broadcaster({
    url: options.managerUrl,
    token: options.managerToken,
    log: log.child("broadcast"),
    ...(giveUpAfterMs === undefined ? {} : { giveUpAfterMs }),
    ...deps.broadcast,
  });
  const session = new BuilderSession({
    builderId: options.builderId,
    environment: {
      servicefs: options.servicefs,
      workdir: options.workdir,
      // A builder the manager started: the manager keeps the build's log; one copy is enough.
      logDir: options.managerUrl ? undefined : options.logDir,
      gitCache: options.gitCache,
      out: deps.out,
      user: options.user,
      cacheDirs: options.cacheDirs,
      ...(options.publishTo === "manager"
        ? { publisher: managerPublisher({ managerUrl: options.managerUrl!, token: options.managerToken!, builderId: options.builderId, ...(giveUpAfterMs === undefined ? {} : { giveUpAfterMs }) }) }
        : {}),
    },
    broadcaster,
    defaults: { token: options.token, secrets, mask: [options.managerToken ?? ""], ref: options.ref, sha: options.sha },
    log,
    once: options.once,
  });

  if (options.runOnStartup) {
    const answer = session.start(
      session.specFor({ key: options.key, target: options.target!, url: options.url!, commands: options.commands, artifacts: options.artifacts }),
    );
    if (!answer.accepted) return 1;
    const stopBuild = () => session.abort();
    const release = onSignals(stopBuild);
    try {
      const outcome = await answer.done;
      await broadcaster.drain();
      return outcome.ok ? 0 : 1;
    } finally {
      release();
    }
  }

  let handle: Awaited<ReturnType<typeof serveBuilds>>;
  try {
    handle = await serveBuilds({
      session,
      broadcaster,
      builderId: options.builderId,
      host: options.host,
      port: options.port,
      token: options.managerToken,
      once: options.once,
      log,
    });
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
