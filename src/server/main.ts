import { parseArgs } from "node:util";
import { environmentSecrets, readEnvironment } from "../config/environment.js";
import { isCicdError } from "../shared/errors.js";
import { createLogger } from "../shared/logger.js";
import { loadDotEnv } from "./dot-env.js";
import { holdYoungGeneration } from "./startup-heap.js";

const usage = `Usage: cicd server [--config FILE]

Starts the manager: GitHub webhooks at /api/github/webhooks, the REST API at /api/v1, the queue.
  --config FILE   cicd.yml to use (default: $CICD_CONFIG or ./cicd.yml)
`;

/** `cicd server`: load the config, start, and stop cleanly on SIGTERM/SIGINT (twice: at once). */
export async function serverMain(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: "string", short: "c" }, help: { type: "boolean", short: "h" } } });
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  let environment;
  const fromDotEnv = loadDotEnv(process.cwd(), process.env);
  try {
    // Every variable the server reads, read and checked once, before anything starts.
    environment = readEnvironment(process.env);
  } catch (error) {
    if (!isCicdError(error)) throw error;
    process.stderr.write(`cicd: ${error.message}\n`);
    return 1;
  }
  const logger = createLogger("cicd", { level: environment.LOG_LEVEL, format: environment.LOG_FORMAT, secrets: environmentSecrets(environment) });
  if (fromDotEnv.length) logger.info(`read ${fromDotEnv.join(", ")} from .env`);
  const { config, startServer } = await loadServer(values.config ?? environment.CICD_CONFIG, environment.NODE_OPTIONS);
  let server;
  try {
    server = await startServer({ config, environment, logger });
  } catch (error) {
    // A refusal to start (another server holds the database, …) is a message for the person
    // starting it, not a stack trace; the exit code tells scripts and service managers.
    if (!isCicdError(error)) throw error;
    process.stderr.write(`cicd: ${error.message}\n`);
    return 1;
  }
  return new Promise((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals === 1) {
        logger.info(`${signal}: finishing running builds (up to ${config.shutdownGraceMs} ms); the queue is kept. Send again to stop at once.`);
        void server.close().then(() => resolve(0));
      } else {
        logger.warn(`${signal} again: stopping now; interrupted builds resume on the next start`);
        server.interrupt();
      }
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}

/**
 * The server's modules and the config: most of what start-up allocates, so they load while the
 * young generation is held small (startup-heap.ts). Recovery comes after the release: with
 * thousands of queued builds it allocates a lot, and a small young generation would slow it.
 */
async function loadServer(file: string, nodeOptions: string | undefined) {
  const release = holdYoungGeneration(process.execArgv, { NODE_OPTIONS: nodeOptions });
  try {
    const [{ loadConfig }, { startServer }] = await Promise.all([import("../config/load-config.js"), import("./start-server.js")]);
    // The whole environment: `${VAR}` in cicd.yml may name any variable. PORT, which overrides
    // `port`, was already checked by readEnvironment.
    return { config: loadConfig(file, process.env), startServer };
  } finally {
    release();
  }
}
