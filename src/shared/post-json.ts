import http from "node:http";
import https from "node:https";

export interface PostJsonOptions {
  /** Sent as `Authorization: Bearer …`. */
  token?: string;
  /** The whole exchange, connect to last byte; past it the request is destroyed. */
  timeoutMs: number;
  /** Aborting it destroys the request (the promise rejects with an AbortError). */
  signal?: AbortSignal;
}

export interface JsonAnswer {
  status: number;
  /** The answer's body as text (callers parse it; it may not be JSON). */
  text: string;
}

/**
 * POSTs `body` as JSON and reads the whole answer. Any HTTP status resolves; a connection
 * error or the timeout rejects with a Node error whose `code` says which (ECONNREFUSED,
 * ETIMEDOUT, …). The body is never part of an error, since build requests carry secrets.
 *
 * Why not fetch(): a builder is a fresh Node process in a fresh container, and its first
 * fetch() compiles Node's bundled undici — about 200 ms of CPU, more than the rest of a small
 * build's own work (measured per container, docs/performance.md). node:http is already loaded.
 * Connections are kept alive by Node's global agents.
 */
export function postJson(url: string, body: unknown, o: PostJsonOptions): Promise<JsonAnswer> {
  return exchangeJson("POST", url, body, o);
}

/** GETs `url` and reads the whole answer, on the terms of postJson. */
export function getJson(url: string, o: PostJsonOptions): Promise<JsonAnswer> {
  return exchangeJson("GET", url, undefined, o);
}

function exchangeJson(method: "GET" | "POST", url: string, body: unknown, o: PostJsonOptions): Promise<JsonAnswer> {
  const target = new URL(url);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const headers: http.OutgoingHttpHeaders = payload ? { "content-type": "application/json", "content-length": payload.length } : {};
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  const transport = target.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const request = transport.request(target, { method, headers, signal: o.signal }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => {
        clearTimeout(timer);
        resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") });
      });
      response.on("error", reject);
    });
    const timer = setTimeout(() => {
      request.destroy(Object.assign(new Error(`no answer from ${target.origin} within ${o.timeoutMs} ms`), { code: "ETIMEDOUT" }));
    }, o.timeoutMs);
    request.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    request.end(payload);
  });
}
