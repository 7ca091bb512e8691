import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Express } from "express";
import type { Config } from "../config/load-config.js";
import type { Executor } from "../executor/types.js";
import type { GitHubIntegration } from "../webhooks/mount-github.js";
import { errors } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { callbackWarning, listeningWhere } from "./callback-reach.js";
import { answerClientErrors } from "./client-error.js";

export interface Listening {
  server: Server;
  port: number;
  /** Where this machine reaches the server (127.0.0.1 when it listens on every address). */
  url: string;
  /**
   * For the start-up line: the address it is bound to and the URL to use, e.g.
   * `http://0.0.0.0:3000 (every address; from this machine http://127.0.0.1:3000)`.
   */
  where: string;
}

/**
 * Step 6, listen. Webhooks that only queue builds are taken before express's routing (see
 * mountGitHub). Every GitHub delivery may queue work: 503 while that cannot be kept (the
 * database was lost), so GitHub shows the delivery as failed and it can be redelivered once the
 * server is restarted. Rejects when the server cannot listen (e.g. the port is taken). Given the
 * executor and a logger, warns (one line) when the executor's workloads cannot call the server
 * back at the address it is bound to (callback-reach.ts): builds would otherwise wait and fail.
 */
export async function listen(
  app: Express,
  deps: { config: Config; github?: GitHubIntegration; unavailable: () => string | undefined; executor?: Pick<Executor, "name" | "isolated" | "managerHost">; logger?: Logger },
): Promise<Listening> {
  const { config, github, unavailable, executor, logger } = deps;
  const handle = github ? (req: IncomingMessage, res: ServerResponse) => github.directWebhooks(req, res, () => app(req, res)) : app;
  const server = createServer((req, res) => {
    const reason = unavailable();
    if (reason && req.headers["x-github-event"] !== undefined) {
      const refused = errors.unavailable(reason);
      const body = JSON.stringify({ error: refused.message, code: refused.code });
      return void res.writeHead(refused.status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
    }
    handle(req, res);
  });
  // The webhook gate sees a request once its headers are in; slow header senders end here.
  server.headersTimeout = 15_000;
  answerClientErrors(server);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // What the socket is bound to, not what cicd.yml says: `localhost` resolves to an address.
  const { port, address: bound } = server.address() as AddressInfo;
  const { url, where } = listeningWhere(bound, port, config.publicUrl);
  if (executor && logger) {
    const warning = callbackWarning({ executor: executor.name, hostProcesses: !executor.isolated, managerHost: executor.managerHost, callbackHost: config.callbackHost, bound, port });
    if (warning) logger.warn(warning);
  }
  return { server, port, url, where };
}
