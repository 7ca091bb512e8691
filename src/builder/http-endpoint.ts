import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { z } from "zod/mini";
import type { Logger } from "../shared/logger.js";
import { readBody } from "../shared/read-body.js";
import { sameSecret } from "../shared/same-secret.js";
import { buildRequestSchema, type AcceptedAnswer, type BusyAnswer } from "../shared/protocol.js";
import type { BuildOutcome } from "./run-build.js";
import type { BuilderSession, StartAnswer } from "./builder-session.js";
import { isCicdError } from "../shared/errors.js";

export interface EndpointOptions {
  session: BuilderSession;
  /** When set, every request needs `Authorization: Bearer <token>`. */
  token?: string;
  log: Logger;
  /** Called with each accepted build's outcome promise. */
  onBuild?: (done: Promise<BuildOutcome>) => void;
  /** Largest accepted body (default 1 MiB). */
  maxBodyBytes?: number;
}

/**
 * The builder's HTTP endpoint (the manager's side of the wire protocol):
 * `POST /build` → 202 accepted | 409 busy | 400 bad request | 413 too large;
 * `GET /status` → BuilderStatus. Errors are JSON `{"error"}`; 401 without the bearer token.
 */
export function createEndpoint(options: EndpointOptions): Server {
  const limit = options.maxBodyBytes ?? 1024 * 1024;
  return createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      options.log.error("request failed", { error: String(error) });
      if (!res.headersSent) send(res, 500, { error: "internal error" });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const route = `${req.method} ${(req.url ?? "").split("?")[0]}`;
    if (options.token && !authorized(req.headers.authorization, options.token)) {
      req.resume();
      return send(res, 401, { error: "Missing or wrong bearer token. Send `Authorization: Bearer <manager token>`." });
    }
    if (route === "GET /status") return send(res, 200, options.session.status());
    if (route !== "POST /build") {
      req.resume();
      return send(res, 404, { error: `No route ${route}. Use POST /build or GET /status.` });
    }
    const body = await readBody(req, limit);
    if (body === undefined) {
      res.setHeader("connection", "close");
      return send(res, 413, { error: `Request body larger than ${limit} bytes.` });
    }
    let json: unknown;
    try {
      json = JSON.parse(body.toString("utf8"));
    } catch {
      return send(res, 400, { error: "The body is not valid JSON." });
    }
    const parsed = buildRequestSchema.safeParse(json);
    if (!parsed.success) return send(res, 400, { error: describeIssues(parsed.error) });
    let answer: StartAnswer;
    try {
      answer = options.session.start(options.session.specFor(parsed.data));
    } catch (error) {
      if (isCicdError(error)) return send(res, 400, { error: error.message });
      throw error;
    }
    if (!answer.accepted) return send(res, 409, { status: "busy", key: answer.key } satisfies BusyAnswer);
    options.log.info("build accepted", { key: answer.key });
    options.onBuild?.(answer.done);
    return send(res, 202, { status: "accepted", key: answer.key } satisfies AcceptedAnswer);
  }
}

function authorized(header: string | undefined, token: string): boolean {
  return sameSecret(header ?? "", `Bearer ${token}`);
}

/** "commands: expected a non-empty list of commands; key: …" — names fields, never values. */
function describeIssues(error: z.core.$ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join(".") : "body"}: ${i.message}`).join("; ");
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
