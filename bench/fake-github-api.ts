import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeGitHub {
  /** Environment for startServer / `cicd server`: the GitHub App settings pointing at the fake. */
  env: Record<string, string>;
  webhookSecret: string;
  /** Requests the fake answered. */
  requests(): number;
  close(): Promise<void>;
}

/**
 * A tiny stand-in for GitHub's REST API on 127.0.0.1, so that the check-run reporter's requests
 * never leave the machine: every request gets 201 (POST) or 200 with `{ "id": 1, … }`, and the
 * installation token request a token that expires in an hour. With it, a fresh RSA key and a
 * random webhook secret, the returned `env` makes a server mount its GitHub App webhooks.
 */
export async function startFakeGitHub(): Promise<FakeGitHub> {
  let count = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      count++;
      const body = {
        id: 1,
        token: "ghs_benchFakeInstallationToken",
        expires_at: new Date(Date.now() + 3_600_000).toISOString(),
        html_url: "http://127.0.0.1/fake",
        permissions: {},
      };
      res.writeHead(req.method === "POST" ? 201 : 200, { "content-type": "application/json" }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  const webhookSecret = randomBytes(16).toString("hex");
  return {
    env: {
      APP_ID: "1",
      PRIVATE_KEY: privateKey,
      WEBHOOK_SECRET: webhookSecret,
      GHE_HOST: `127.0.0.1:${(server.address() as AddressInfo).port}`,
      GHE_PROTOCOL: "http",
    },
    webhookSecret,
    requests: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
