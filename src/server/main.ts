import { parseArgs } from "node:util";
import { loadConfig } from "../config/load-config.js";
import { createLogger } from "../shared/logger.js";
import { startServer } from "./start-server.js";

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
  const logger = createLogger("cicd");
  const config = loadConfig(values.config ?? process.env.CICD_CONFIG ?? "cicd.yml");
  const server = await startServer({ config, logger });
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
