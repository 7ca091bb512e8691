import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** A request the fake answered: when, what, and its JSON body (undefined when it had none). */
export interface SeenRequest {
  at: number;
  method: string;
  path: string;
  body: Record<string, unknown> | undefined;
}

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
export async function startFakeGitHub(onRequest?: (request: SeenRequest) => void): Promise<FakeGitHub> {
  let count = 0;
  let nextId = 1;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => onRequest && chunks.push(chunk));
    req.on("end", () => {
      count++;
      // Each check run its own id, so that its later updates can be told apart.
      const id = req.method === "POST" && /\/check-runs$/.test(req.url ?? "") ? nextId++ : 1;
      if (onRequest) {
        let json: Record<string, unknown> | undefined;
        try {
          json = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>) : undefined;
        } catch {
          json = undefined;
        }
        onRequest({ at: performance.now(), method: req.method ?? "", path: req.url ?? "", body: json && { ...json, id } });
      }
      const body = {
        id,
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
