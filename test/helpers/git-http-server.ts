import { spawn } from "node:child_process";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";

export interface GitHttpServer {
  /** e.g. http://127.0.0.1:43210 */
  origin: string;
  /** URL of a repository folder under the root, e.g. repoUrl("hello.git"). */
  repoUrl(name: string): string;
  /** Every request seen, for asserting what crossed the wire (URLs, headers). */
  requests: { method: string; url: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

export interface GitHttpServerOptions {
  /** Folder holding bare repositories (GIT_PROJECT_ROOT). */
  root: string;
  /**
   * When set, every request needs `Authorization: Basic base64(<any user>:<token>)` or
   * `Bearer <token>`; others get 401 with a Basic challenge, as GitHub answers private repos.
   */
  token?: string;
  /** Listen address: 127.0.0.1 by default; a bridge gateway for containers. */
  host?: string;
  port?: number;
  /**
   * Speak only the old protocol v0, where (without uploadpack.allowReachableSHA1InWant) the
   * server refuses to send a commit by sha that no ref points at, as some servers do.
   */
  protocolV0?: boolean;
  /** Serve HTTPS with this certificate and key (PEM), as a server behind a company CA would. */
  tls?: { cert: string; key: string };
}

/**
 * Git's smart HTTP protocol for tests: a node http server that hands each request to
 * `git http-backend` (CGI), so clones and fetches run against real git.
 */
export async function startGitHttpServer(options: GitHttpServerOptions): Promise<GitHttpServer> {
  const requests: GitHttpServer["requests"] = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    if (options.token && !authorized(req.headers.authorization, options.token)) {
      req.resume();
      res.writeHead(401, { "www-authenticate": 'Basic realm="git"', "content-type": "text/plain" });
      res.end("authentication required\n");
      return;
    }
    const url = new URL(req.url ?? "/", "http://localhost");
    const child = spawn("git", ["http-backend"], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: options.root,
        GIT_HTTP_EXPORT_ALL: "1",
        GIT_CONFIG_NOSYSTEM: "1",
        GIT_CONFIG_GLOBAL: "/dev/null",
        REQUEST_METHOD: req.method ?? "GET",
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers["content-type"] ?? "",
        REMOTE_USER: "test",
        REMOTE_ADDR: req.socket.remoteAddress ?? "",
        ...(req.headers["content-encoding"] ? { HTTP_CONTENT_ENCODING: String(req.headers["content-encoding"]) } : {}),
        ...(req.headers["git-protocol"] && !options.protocolV0 ? { GIT_PROTOCOL: String(req.headers["git-protocol"]) } : {}),
      },
      stdio: ["pipe", "pipe", "inherit"],
    });
    req.pipe(child.stdin);
    let head = Buffer.alloc(0);
    let headersDone = false;
    child.stdout.on("data", (chunk: Buffer) => {
      if (headersDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      for (const line of head.subarray(0, end).toString("latin1").split("\r\n")) {
        const colon = line.indexOf(":");
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === "status") status = Number.parseInt(value, 10);
        else if (name) res.setHeader(name, value);
      }
      res.writeHead(status);
      res.write(head.subarray(end + 4));
    });
    child.on("close", () => {
      if (!headersDone) res.writeHead(500);
      res.end();
    });
  };
  const server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handler) : createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `${options.tls ? "https" : "http"}://${options.host ?? "127.0.0.1"}:${port}`;
  return {
    origin,
    repoUrl: (name) => `${origin}/${name}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function authorized(header: string | undefined, token: string): boolean {
  if (!header) return false;
  if (header === `Bearer ${token}`) return true;
  const m = /^Basic (.+)$/.exec(header);
  if (!m) return false;
  const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
  return decoded.slice(decoded.indexOf(":") + 1) === token;
}
