import type { Readable } from "node:stream";
import { type LogText, LogDemuxer } from "./demux.js";
import { EngineError } from "./engine-error.js";
import { type EngineAddress, EngineHttp, engineAddress } from "./engine-http.js";
import type { ContainerCreateOptions, ContainerInspect, ContainerSummary, ImageInspect, ProgressEvent, WaitResult } from "./engine-types.js";
import { jsonLines, progressError } from "./json-lines.js";

export interface BuildOptions {
  /** Tag of the new image. */
  t: string;
  /** Path of the Dockerfile inside the context. */
  dockerfile: string;
  labels?: Record<string, string>;
  /** Remove intermediate containers after a good build (`rm`), and after a failed one too (`forcerm`). */
  rm?: boolean;
  forcerm?: boolean;
}

/**
 * The few Docker Engine API calls the executor makes, over `node:http` (see engine-http.ts for
 * the transport). Every failure is an EngineError with the engine's status and message.
 * Ids and names are container ids, container names or image references.
 */
export class EngineClient {
  private readonly http: EngineHttp;

  /** `address`: default DOCKER_HOST, else the local socket /var/run/docker.sock. */
  constructor(address: EngineAddress = engineAddress()) {
    this.http = new EngineHttp(address);
  }

  /** Creates (does not start) a container; 404 when the image is missing, 409 when the name is taken. */
  createContainer({ name, ...config }: ContainerCreateOptions): Promise<{ Id: string; Warnings?: string[] | null }> {
    return this.http.json({ method: "POST", path: "/containers/create", query: { name }, json: config });
  }

  /** 304 when already running. */
  startContainer(id: string): Promise<void> {
    return this.http.send({ method: "POST", path: `/containers/${part(id)}/start` });
  }

  inspectContainer(id: string): Promise<ContainerInspect> {
    return this.http.json({ method: "GET", path: `/containers/${part(id)}/json` });
  }

  /**
   * The container's stdout and stderr from the start, decoded; with `follow`, until it exits (or
   * the stream is cut: iterating then throws). `tty` says how the engine sends the output; when
   * not given, the container is inspected to find out (API 1.41 does not say in the answer).
   */
  async containerLogs(id: string, options: { follow?: boolean; tty?: boolean; signal?: AbortSignal } = {}): Promise<AsyncIterable<LogText>> {
    const tty = options.tty ?? Boolean((await this.inspectContainer(id)).Config.Tty);
    const res = await this.http.stream({
      method: "GET",
      path: `/containers/${part(id)}/logs`,
      query: { follow: options.follow ?? false, stdout: true, stderr: true },
      signal: options.signal,
    });
    return (async function* () {
      const demuxer = new LogDemuxer(!tty);
      try {
        for await (const chunk of res as AsyncIterable<Buffer>) yield* demuxer.write(chunk);
        yield* demuxer.end();
      } finally {
        res.destroy();
      }
    })();
  }

  /**
   * Waits until the container is not running and returns its exit status. A long poll: no
   * timeout; aborting `signal` rejects with an AbortError and leaves the container alone.
   */
  waitContainer(id: string, signal?: AbortSignal): Promise<WaitResult> {
    return this.http.json({ method: "POST", path: `/containers/${part(id)}/wait`, query: { condition: "not-running" }, signal });
  }

  /** SIGTERM (the image's stop signal), SIGKILL after `t` seconds; 304 when not running. */
  stopContainer(id: string, t?: number): Promise<void> {
    return this.http.send({ method: "POST", path: `/containers/${part(id)}/stop`, query: { t } });
  }

  /** `force` kills a running container first; `v` removes its anonymous volumes. 409 while a removal is in progress. */
  removeContainer(id: string, options: { force?: boolean; v?: boolean } = {}): Promise<void> {
    return this.http.send({ method: "DELETE", path: `/containers/${part(id)}`, query: { force: options.force, v: options.v } });
  }

  /** Containers carrying every one of `labels` ("key=value" or "key"); stopped ones too with `all`. */
  async listContainers(options: { all?: boolean; labels?: string[] } = {}): Promise<ContainerSummary[]> {
    const filters = options.labels?.length ? JSON.stringify({ label: options.labels }) : undefined;
    return (await this.http.json<ContainerSummary[] | undefined>({ method: "GET", path: "/containers/json", query: { all: options.all, filters } })) ?? [];
  }

  /** 404 when there is no such image. */
  inspectImage(name: string): Promise<ImageInspect> {
    return this.http.json({ method: "GET", path: `/images/${imageRef(name)}/json` });
  }

  /**
   * Builds an image from a tar `context` (classic builder). Every progress event goes to
   * `onProgress`; resolves when the build is done, rejects with the first error it reported.
   */
  async buildImage(context: Buffer | Readable, options: BuildOptions, onProgress: (event: ProgressEvent) => void): Promise<void> {
    const { t, dockerfile, labels, rm, forcerm } = options;
    const query = { t, dockerfile, labels: labels ? JSON.stringify(labels) : undefined, rm, forcerm };
    await this.follow({ method: "POST", path: "/build", query, tar: context }, onProgress);
  }

  /** Pulls `image` (name[:tag] or name@digest) from its registry, reporting like buildImage. */
  async pullImage(image: string, onProgress: (event: ProgressEvent) => void): Promise<void> {
    await this.follow({ method: "POST", path: "/images/create", query: splitReference(image) }, onProgress);
  }

  /** Untags `name` and deletes it when nothing else uses it; 409 when a container still does. */
  removeImage(name: string): Promise<void> {
    return this.http.send({ method: "DELETE", path: `/images/${imageRef(name)}` });
  }

  private async follow(request: Parameters<EngineHttp["stream"]>[0], onProgress: (event: ProgressEvent) => void): Promise<void> {
    const res = await this.http.stream(request);
    let firstError: string | undefined;
    try {
      for await (const event of jsonLines(res)) {
        firstError ??= progressError(event);
        onProgress(event);
      }
    } catch (error) {
      throw new EngineError(`the progress stream broke off (${(error as Error).message})`, undefined, `${request.method} ${request.path}`, { cause: error });
    }
    if (firstError) throw new EngineError(firstError, undefined, `${request.method} ${request.path}`);
  }
}

/** A container id or name as one path segment. */
const part = (value: string) => encodeURIComponent(value);

/** An image reference in a path: its slashes, colons and @ are part of the route. */
const imageRef = (name: string) => encodeURIComponent(name).replace(/%2F/gi, "/").replace(/%3A/gi, ":").replace(/%40/g, "@");

/**
 * `fromImage` and `tag` for a pull. An empty tag would pull every tag of the repository, so a
 * reference without one means `latest`, as with `docker pull`.
 */
export function splitReference(image: string): { fromImage: string; tag: string } {
  const at = image.indexOf("@");
  if (at >= 0) return { fromImage: image.slice(0, at), tag: image.slice(at + 1) };
  const colon = image.lastIndexOf(":");
  if (colon > image.lastIndexOf("/")) return { fromImage: image.slice(0, colon), tag: image.slice(colon + 1) };
  return { fromImage: image, tag: "latest" };
}
