import { createHash } from "node:crypto";
import path from "node:path";
import type { Environment } from "../config/environment.js";
import type { Config } from "../config/load-config.js";
import { createExecutor } from "../executor/index.js";
import type { Executor } from "../executor/types.js";
import type { Logger } from "../shared/logger.js";

/**
 * Step 2, make the executor (where builds run), once the database lock is held: the local
 * executor ends here what a killed predecessor left running. Its workloads are labelled with
 * this manager's instance (a hash of its database path), so recovery after a restart never
 * touches the workloads of another cicd on the same engine. The Docker engine is `docker:` of
 * cicd.yml, else the one DOCKER_HOST (DOCKER_TLS_VERIFY, DOCKER_CERT_PATH) names, as read in
 * config/environment.ts; `checkExecutor` then asks it, so a wrong address or certificate stops
 * the start with a message naming the host.
 */
export function makeExecutor(config: Config, environment: Environment, dataDir: string, logger: Logger): Executor {
  const instance = createHash("sha256").update(path.resolve(config.database === ":memory:" ? config.file : config.database)).digest("hex").slice(0, 12);
  const { DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH } = environment;
  return createExecutor(config.executor, {
    logger: logger.child("executor"),
    instance,
    workloadsDir: path.join(dataDir, "workloads"),
    docker: config.docker,
    dockerEnvironment: { DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH },
    callbackHost: config.callbackHost,
  });
}
