import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import type Dockerode from "dockerode";
import { connectEngine } from "../../src/executor/docker/engine.js";

export interface SeenRequest {
  method: string;
  /** Path and query as sent, e.g. "/containers/json?all=1". */
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** What the fake engine does with one request: answer it, or leave it hanging (`res` untouched). */
export type Route = (req: SeenRequest, res: http.ServerResponse) => void;

export interface FakeEngine {
  /** A dockerode client talking to it over its Unix socket (or TCP with `tcp: true`). */
  docker: Dockerode;
  dockerHost: string;
  requests: SeenRequest[];
  /** Connections the clients opened so far. */
  connections: number;
  close(): Promise<void>;
}

/**
 * A stand-in Docker engine on a real socket, for answers the real one gives only in races
 * (409 "removal already in progress") or on failure. Answers with `route`.
 */
export async function startFakeEngine(route: Route, options: { tcp?: boolean } = {}): Promise<FakeEngine> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cicd-fake-engine-"));
  const requests: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const seen = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(seen);
      route(seen, res);
    });
  });
  const engine: FakeEngine = { docker: undefined as unknown as Dockerode, dockerHost: "", requests, connections: 0, close: async () => {} };
  server.on("connection", () => engine.connections++);
  if (options.tcp) {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    engine.dockerHost = `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`;
  } else {
    const socket = path.join(dir, "docker.sock");
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    engine.dockerHost = `unix://${socket}`;
  }
  engine.docker = connectEngine({ host: engine.dockerHost }).docker;
  engine.close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  };
  return engine;
}

/** Answers like the engine: JSON with its status. */
export function answer(res: http.ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "Content-Type": typeof body === "string" ? "text/plain" : "application/json" }).end(text);
}
