// The API's shapes, inferred from the zod schemas the server validates with and renders
// openapi.json from (shared/api/): the client holds no types of its own, and imports nothing of
// the server (the manager's types reached better-sqlite3).
import type { Build, BuildListQuery } from "../shared/api/builds.js";
import type { RunnerView } from "../shared/api/runners.js";
import type { BuildArtifact, BuildRecord, BuildsDocument, MarkBadRequest, TargetSummary } from "../shared/api/targets.js";
import { serverSentEvents } from "./server-sent-events.js";

export type { Build, BuildStatus } from "../shared/api/builds.js";
export type { RunnerView } from "../shared/api/runners.js";
export type { BuildArtifact, BuildRecord, BuildsDocument, MarkBadRequest, TargetSummary } from "../shared/api/targets.js";

/** An error answer of the API: `status` is the HTTP status, `code` the catalogue code. */
export class CicdApiError extends Error {
  override readonly name = "CicdApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** What the log's event stream sends: each line with its number (from 1), then the ended build. */
export type LogEvent = { type: "line"; number: number; text: string } | { type: "end"; build: Build };

/** A download as it arrives: its size when the server said it, and its bytes in chunks. */
export interface ArtifactStream {
  size: number | undefined;
  body: AsyncIterable<Uint8Array>;
}

export interface ClientOptions {
  /** e.g. `http://127.0.0.1:3000` (no trailing `/api/v1`). */
  baseUrl: string;
  /** The server's CICD_API_TOKEN. */
  token: string;
  /** Custom fetch (tests, proxies). */
  fetch?: typeof fetch;
}

/**
 * Typed client for every route of the cicd REST API. Every method throws CicdApiError with the
 * server's status, code and message when the answer is not a success.
 */
export class CicdClient {
  private readonly base: string;
  private readonly fetcher: typeof fetch;

  constructor(private readonly options: ClientOptions) {
    this.base = `${options.baseUrl.replace(/\/+$/, "")}/api/v1`;
    this.fetcher = options.fetch ?? fetch;
  }

  /** Queues a build of `target` (optionally a ref or commit). */
  triggerBuild(target: string, at: { ref?: string; sha?: string } = {}): Promise<Build> {
    return this.json("POST", "/builds", { target, ...at });
  }

  getBuild(key: string): Promise<Build> {
    return this.json("GET", `/builds/${enc(key)}`);
  }

  async listBuilds(filter: BuildListQuery = {}): Promise<Build[]> {
    const query = new URLSearchParams(Object.entries(filter).filter(([, v]) => v !== undefined).map(([k, v]): [string, string] => [k, String(v)]));
    const q = query.toString();
    return (await this.json<{ builds: Build[] }>("GET", `/builds${q ? `?${q}` : ""}`)).builds;
  }

  cancelBuild(key: string): Promise<Build> {
    return this.json("POST", `/builds/${enc(key)}/cancel`);
  }

  /** The whole log so far (masked). */
  async getLog(key: string): Promise<string> {
    return (await this.request("GET", `/builds/${enc(key)}/log`)).text();
  }

  /** The log as it is written, until the build ends. */
  async *followLog(key: string, signal?: AbortSignal): AsyncGenerator<string> {
    const response = await this.request("GET", `/builds/${enc(key)}/log?follow=1`, undefined, signal);
    const decoder = new TextDecoder();
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) yield decoder.decode(chunk, { stream: true });
  }

  /**
   * The log as events, until the build ends: each line with its number, then `end` with the
   * build. `after` (a line number) resumes after that line, as a reconnect does.
   */
  async *logEvents(key: string, options: { after?: number; signal?: AbortSignal } = {}): AsyncGenerator<LogEvent> {
    const headers: Record<string, string> = { accept: "text/event-stream" };
    if (options.after) headers["last-event-id"] = String(options.after);
    const response = await this.request("GET", `/builds/${enc(key)}/log?follow=1`, undefined, options.signal, headers);
    for await (const event of serverSentEvents(response.body as unknown as AsyncIterable<Uint8Array>)) {
      if (event.event === "end") {
        yield { type: "end", build: JSON.parse(event.data) as Build };
        return;
      }
      if (event.event === "message" && event.id !== undefined) yield { type: "line", number: Number(event.id), text: event.data };
    }
  }

  /** Every build's status changes as they happen (`target`: one target's only), until `signal` aborts. */
  async *events(options: { target?: string; signal?: AbortSignal } = {}): AsyncGenerator<Build> {
    const response = await this.request("GET", `/events${options.target ? `?target=${enc(options.target)}` : ""}`, undefined, options.signal, { accept: "text/event-stream" });
    for await (const event of serverSentEvents(response.body as unknown as AsyncIterable<Uint8Array>)) {
      if (event.event === "build") yield JSON.parse(event.data) as Build;
    }
  }

  /** Polls until the build has finished; resolves with it. */
  async waitForBuild(key: string, options: { intervalMs?: number; timeoutMs?: number } = {}): Promise<Build> {
    const deadline = Date.now() + (options.timeoutMs ?? 30 * 60_000);
    for (;;) {
      const build = await this.getBuild(key);
      if (!["queued", "running"].includes(build.status)) return build;
      if (Date.now() > deadline) throw new CicdApiError(408, "TIMED_OUT", `build ${key} still ${build.status}`);
      await new Promise((r) => setTimeout(r, options.intervalMs ?? 500));
    }
  }

  async listTargets(): Promise<TargetSummary[]> {
    return (await this.json<{ targets: TargetSummary[] }>("GET", "/targets")).targets;
  }

  /** The target's builds.json. */
  getArtifacts(target: string): Promise<BuildsDocument> {
    return this.json("GET", `/targets/${enc(target)}/artifacts`);
  }

  /**
   * Marks build `key` of the target's builds.json bad (as a runner does when it fails), with why;
   * answers its entry. A build already bad comes back unchanged.
   */
  markBuildBad(target: string, key: string, info: MarkBadRequest = {}): Promise<BuildRecord> {
    return this.json("POST", `/targets/${enc(target)}/builds/${enc(key)}/mark-bad`, info);
  }

  /** Downloads an artifact; `range` asks for part of it (`{ start, end }` inclusive). */
  downloadArtifact(target: string, file: string, range?: { start: number; end?: number }): Promise<Uint8Array> {
    return this.download(`/targets/${enc(target)}/artifacts/${enc(file)}`, range);
  }

  /** Opens an artifact of the target's builds.json for reading as it downloads (no Range: the whole file). */
  openArtifact(target: string, file: string, signal?: AbortSignal): Promise<ArtifactStream> {
    return this.stream(`/targets/${enc(target)}/artifacts/${enc(file)}`, signal);
  }

  /** Opens one of a build's artifacts by key for reading as it downloads. */
  openBuildArtifact(key: string, file: string, signal?: AbortSignal): Promise<ArtifactStream> {
    return this.stream(`/builds/${enc(key)}/artifacts/${enc(file)}`, signal);
  }

  /** A build's artifacts by key, whatever kind of build (a pull request's are kept only here). */
  async getBuildArtifacts(key: string): Promise<BuildArtifact[]> {
    return (await this.json<{ artifacts: BuildArtifact[] }>("GET", `/builds/${enc(key)}/artifacts`)).artifacts;
  }

  /** Downloads one of a build's artifacts by key. */
  downloadBuildArtifact(key: string, file: string, range?: { start: number; end?: number }): Promise<Uint8Array> {
    return this.download(`/builds/${enc(key)}/artifacts/${enc(file)}`, range);
  }

  private async stream(path: string, signal?: AbortSignal): Promise<ArtifactStream> {
    const response = await this.request("GET", path, undefined, signal);
    const length = response.headers.get("content-length");
    return { size: length === null ? undefined : Number(length), body: response.body as unknown as AsyncIterable<Uint8Array> };
  }

  private async download(path: string, range?: { start: number; end?: number }): Promise<Uint8Array> {
    const headers = range ? { range: `bytes=${range.start}-${range.end ?? ""}` } : undefined;
    const response = await this.request("GET", path, undefined, undefined, headers);
    return new Uint8Array(await response.arrayBuffer());
  }

  /**
   * Starts a runner for `target`. With `build`, deploys that build: the target's running
   * runners are stopped and the new one is pinned to it (422 when it is not a good build).
   */
  createRunner(target: string, options: { build?: string } = {}): Promise<RunnerView> {
    return this.json("POST", `/targets/${enc(target)}/runners`, options.build === undefined ? undefined : { build: options.build });
  }

  getRunner(id: string): Promise<RunnerView> {
    return this.json("GET", `/runners/${enc(id)}`);
  }

  async listRunners(target?: string): Promise<RunnerView[]> {
    return (await this.json<{ runners: RunnerView[] }>("GET", `/runners${target ? `?target=${enc(target)}` : ""}`)).runners;
  }

  deleteRunner(id: string): Promise<RunnerView> {
    return this.json("DELETE", `/runners/${enc(id)}`);
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await (await this.request(method, path, body)).json()) as T;
  }

  private async request(method: string, path: string, body?: unknown, signal?: AbortSignal, extra?: Record<string, string>): Promise<Response> {
    const response = await this.fetcher(`${this.base}${path}`, {
      method,
      signal,
      headers: { authorization: `Bearer ${this.options.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }), ...extra },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) {
      const answer = (await response.json().catch(() => ({}))) as { error?: string; code?: string };
      throw new CicdApiError(response.status, answer.code ?? "HTTP_ERROR", answer.error ?? `HTTP ${response.status}`);
    }
    return response;
  }
}

function enc(part: string): string {
  return encodeURIComponent(part);
}
