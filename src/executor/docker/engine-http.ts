import http from "node:http";
import type { IncomingMessage } from "node:http";
import net from "node:net";
import type { Readable } from "node:stream";
import { errors } from "../../shared/errors.js";
import { EngineError, engineMessage } from "./engine-error.js";

/** Pinned, so answers keep the shape this client reads; Docker 20.10+ speaks it. */
const API_VERSION = "v1.41";

/** Where the engine listens: a Unix socket, or plain HTTP on host:port. */
export interface EngineAddress {
  socketPath?: string;
  host?: string;
  port?: number;
  /** As the user wrote it, for error messages. */
  display: string;
}

/** `DOCKER_HOST` as the docker CLI reads it: unix:///path (the default socket) or tcp://host:port. */
export function engineAddress(dockerHost = process.env.DOCKER_HOST, tlsVerify = process.env.DOCKER_TLS_VERIFY): EngineAddress {
  const value = dockerHost?.trim() || "unix:///var/run/docker.sock";
  if (value.startsWith("unix://")) return { socketPath: value.slice("unix://".length), display: value };
  const tcp = /^(?:tcp|http):\/\/(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(value);
  // TLS engines would need certificates handling; none of cicd's set-ups use one.
  if (tcp && !tlsVerify) return { host: tcp[1]!.replace(/^\[|\]$/g, ""), port: Number(tcp[2] ?? 2375), display: value };
  throw errors.executorFailed(
    `DOCKER_HOST=${value}${tlsVerify ? " with DOCKER_TLS_VERIFY" : ""} is not supported: cicd talks to the Docker engine over unix:///path/to/docker.sock or plain tcp://host:port.`,
  );
}

export interface EngineRequest {
  method: "GET" | "POST" | "DELETE";
  /** Path after the version, e.g. "/containers/create"; ids and names already encoded. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as application/x-tar (the build context). */
  tar?: Buffer | Readable;
  /** Aborting destroys the request: the call rejects with the signal's AbortError. */
  signal?: AbortSignal;
}

/**
 * Keeps connections to the engine open between calls (Node unrefs idle ones, so they never keep
 * the process alive), and always dials the engine's own address: request interceptors such as
 * nock's wrap the agent and merge `Agent.options` (whose `path` Node sets to null) over the
 * request's `socketPath`, which would otherwise send the request to localhost:80.
 */
class EngineAgent extends http.Agent {
  constructor(private readonly address: EngineAddress) {
    super({ keepAlive: true });
  }

  override createConnection(): net.Socket {
    const { socketPath, host, port } = this.address;
    return net.createConnection(socketPath ? { path: socketPath, noDelay: true } : { host: host!, port: port!, noDelay: true });
  }
}

/**
 * HTTP/1.1 to the Docker engine over one keep-alive agent. No timeouts of its own: waits and
 * log streams last as long as the workload; callers bound them with a signal.
 */
export class EngineHttp {
  private readonly agent: EngineAgent;

  constructor(readonly address: EngineAddress = engineAddress()) {
    this.agent = new EngineAgent(address);
  }

  /** The answer's headers have arrived with a 2xx status; the body is the caller's to read. */
  stream(request: EngineRequest): Promise<IncomingMessage> {
    const call = `${request.method} ${request.path}`;
    const headers: Record<string, string | number> = {};
    let payload: Buffer | Readable | undefined;
    if (request.json !== undefined) {
      payload = Buffer.from(JSON.stringify(request.json));
      headers["Content-Type"] = "application/json";
    } else if (request.tar !== undefined) {
      payload = request.tar;
      headers["Content-Type"] = "application/x-tar";
    }
    if (Buffer.isBuffer(payload)) headers["Content-Length"] = payload.length;
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          agent: this.agent,
          socketPath: this.address.socketPath,
          host: this.address.host,
          port: this.address.port,
          method: request.method,
          path: `/${API_VERSION}${request.path}${queryString(request.query)}`,
          headers,
          signal: request.signal,
        },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve(res);
          readText(res).then(
            (body) => reject(new EngineError(engineMessage(body, status), status, call)),
            (cause: unknown) => reject(new EngineError(`the Docker engine answered HTTP ${status}`, status, call, { cause })),
          );
        },
      );
      req.on("error", (error) => {
        if (request.signal?.aborted) reject(error);
        else reject(new EngineError(`cannot reach the Docker engine at ${this.address.display} (${error.message})`, undefined, call, { cause: error }));
      });
      if (payload === undefined || Buffer.isBuffer(payload)) req.end(payload);
      else payload.on("error", (error) => req.destroy(error)).pipe(req);
    });
  }

  /** The answer's JSON body (undefined when empty). */
  async json<T>(request: EngineRequest): Promise<T> {
    const text = await readText(await this.stream(request), request.signal);
    return (text.trim() ? JSON.parse(text) : undefined) as T;
  }

  /** For calls whose answer has no body worth reading (start, stop, remove). */
  async send(request: EngineRequest): Promise<void> {
    await readText(await this.stream(request), request.signal);
  }
}

/** The whole body as UTF-8. A connection cut before the end rejects. */
function readText(res: IncomingMessage, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const aborted = () => res.destroy(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
    signal?.addEventListener("abort", aborted, { once: true });
    res.on("data", (chunk: Buffer) => chunks.push(chunk));
    res.on("error", reject);
    res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.on("close", () => {
      signal?.removeEventListener("abort", aborted);
      if (!res.complete) reject(new Error("the Docker engine closed the connection"));
    });
  });
}

function queryString(query: EngineRequest["query"]): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value === undefined) continue;
    params.set(name, typeof value === "boolean" ? (value ? "1" : "0") : String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}
