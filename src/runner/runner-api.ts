import type { BuildRecord, BuildsDocument } from "../servicefs/index.js";
import { CicdError, errorMessage, errors } from "../shared/errors.js";
import type { BadInfo } from "./build-source.js";

export interface RunnerApiOptions {
  /** The server, e.g. `https://cicd.example.com` (checked by main.ts: http or https, no credentials). */
  url: string;
  target: string;
  /** CICD_API_TOKEN. Sent as a bearer token and nowhere else: never in a message or a log line. */
  token: string;
  /** How long a request may wait for its answer's headers (default 15 s). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** An artifact's answer, its body not read yet. */
export interface Download {
  body: AsyncIterable<Uint8Array>;
  /** Content-Length, when the server sent one. */
  size: number | undefined;
  /** SHA-256 (hex) the server vouches for (`X-Cicd-Sha256`), when it sends one. */
  sha256: string | undefined;
  /** Ends the download early (the cache gives up on a stalled body with it). */
  abort(): void;
}

/**
 * The three routes of the REST API a remote runner needs, over plain fetch: `cicd runner` may
 * import only `shared` and `servicefs` (it runs in the slim runner image), not the typed client.
 *
 * Errors, in the catalogue's terms: no answer, a timeout, 408, 429 or 5xx → UNAVAILABLE
 * (apiUnreachable: try again later, never a verdict on a build); 401 → UNAUTHORIZED
 * (apiTokenRefused); 404 → NOT_FOUND; any other refusal → UNPROCESSABLE with the server's words.
 */
export class RunnerApi {
  private readonly targetPath: string;
  private readonly fetcher: typeof fetch;

  constructor(private readonly options: RunnerApiOptions) {
    this.targetPath = `${options.url}/api/v1/targets/${encodeURIComponent(options.target)}`;
    this.fetcher = options.fetch ?? fetch;
  }

  /** `GET /targets/:name/artifacts`: the target's builds.json. */
  async builds(): Promise<BuildsDocument> {
    const response = await this.request("GET", "/artifacts");
    const doc = (await this.readJson(response)) as Partial<BuildsDocument> | undefined;
    if (!doc || typeof doc.target !== "string" || !Array.isArray(doc.builds)) {
      throw errors.unprocessable(`The cicd API at ${this.options.url} answered something other than the builds of ${this.options.target}.`);
    }
    return doc as BuildsDocument;
  }

  /**
   * `POST /targets/:name/builds/:key/mark-bad`: the build's entry afterwards; undefined when
   * builds.json no longer holds the build (404 of a known target).
   */
  async markBad(key: string, info: BadInfo): Promise<BuildRecord | undefined> {
    try {
      const response = await this.request("POST", `/builds/${encodeURIComponent(key)}/mark-bad`, info);
      return (await this.readJson(response)) as BuildRecord;
    } catch (error) {
      if (error instanceof CicdError && error.code === "NOT_FOUND" && error.details.what === "build") return undefined;
      throw error;
    }
  }

  /** `GET /targets/:name/artifacts/:file`, answered but not read: the caller streams the body. */
  async download(name: string): Promise<Download> {
    const controller = new AbortController();
    const response = await this.request("GET", `/artifacts/${encodeURIComponent(name)}`, undefined, controller);
    if (!response.body) throw errors.apiUnreachable(this.options.url, `the download of ${name} had no body`);
    const length = response.headers.get("content-length");
    const sha256 = response.headers.get("x-cicd-sha256")?.trim().toLowerCase();
    const body = response.body as unknown as AsyncIterable<Uint8Array>;
    return {
      size: length === null ? undefined : Number(length),
      sha256: sha256 && /^[0-9a-f]{64}$/.test(sha256) ? sha256 : undefined,
      abort: () => controller.abort(),
      // A connection lost halfway is the network's fault, not the artifact's.
      body: this.unavailableOnError(body, name),
    };
  }

  private async *unavailableOnError(body: AsyncIterable<Uint8Array>, name: string): AsyncIterable<Uint8Array> {
    try {
      yield* body;
    } catch (error) {
      throw errors.apiUnreachable(this.options.url, `the download of ${name} broke off (${networkReason(error)})`);
    }
  }

  private async request(method: string, path: string, body?: unknown, controller = new AbortController()): Promise<Response> {
    const url = this.options.url;
    const timeoutMs = this.options.timeoutMs ?? 15_000;
    // Only until the headers: a large artifact may take long to arrive, its body is watched by the cache.
    const timer = setTimeout(() => controller.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    let response: Response;
    try {
      response = await this.fetcher(`${this.targetPath}${path}`, {
        method,
        signal: controller.signal,
        headers: { authorization: `Bearer ${this.options.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw errors.apiUnreachable(url, networkReason(controller.signal.aborted ? controller.signal.reason : error));
    } finally {
      clearTimeout(timer);
    }
    if (response.ok) return response;
    const answer = (await response.json().catch(() => ({}))) as { error?: unknown; code?: unknown };
    const said = typeof answer.error === "string" ? answer.error : `HTTP ${response.status}`;
    const status = response.status;
    if (status === 401) throw errors.apiTokenRefused(url);
    if (status === 408 || status === 429 || status >= 500) throw errors.apiUnreachable(url, `HTTP ${status}: ${said}`);
    if (status === 404) {
      // The server's own words say what is missing (the target, the build, the artifact, or a
      // server too old to have the route); `what` lets markBad tell a build gone from the rest.
      const what = /^No build in builds\.json named /.test(said) ? "build" : "other";
      throw new CicdError("NOT_FOUND", `The cicd API at ${url} answered 404: ${said}`, { what });
    }
    throw errors.unprocessable(`The cicd API at ${url} refused ${method} ${path} (HTTP ${status}): ${said}`);
  }

  private async readJson(response: Response): Promise<unknown> {
    try {
      return await response.json();
    } catch (error) {
      throw errors.apiUnreachable(this.options.url, `the answer was cut short or not JSON (${networkReason(error)})`);
    }
  }
}

/** ECONNREFUSED, ENOTFOUND, "no answer within 15000 ms" …: fetch's own message is just "fetch failed". */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (cause && typeof cause.code === "string") return cause.code;
  if (cause && typeof cause.message === "string") return cause.message;
  return errorMessage(error);
}
