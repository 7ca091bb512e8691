import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Express } from "express";
import type { Config } from "../config/load-config.js";
import type { GitHubIntegration } from "../webhooks/mount-github.js";
import { errors } from "../shared/errors.js";

export interface Listening {
  server: Server;
  port: number;
  /** Where this machine reaches the server (127.0.0.1 when it listens on every address). */
  url: string;
}

/**
 * Step 6, listen. Webhooks that only queue builds are taken before express's routing (see
 * mountGitHub). Every GitHub delivery may queue work: 503 while that cannot be kept (the
 * database was lost), so GitHub shows the delivery as failed and it can be redelivered once the
 * server is restarted. Rejects when the server cannot listen (e.g. the port is taken).
 */
export async function listen(app: Express, deps: { config: Config; github?: GitHubIntegration; unavailable: () => string | undefined }): Promise<Listening> {
  const { config, github, unavailable } = deps;
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
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  return { server, port, url: `http://${host}:${port}` };
}
