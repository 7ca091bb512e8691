import type { BuildRecord, BuildsDocument } from "../servicefs/index.js";
import { errorMessage, isCicdError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { ArtifactCache } from "./artifact-cache.js";
import type { BadInfo, BuildSource, BuildsFeed } from "./build-source.js";
import { PollFeed, type Look } from "./poll-feed.js";
import { RunnerApi, type RunnerApiOptions } from "./runner-api.js";

export interface ApiBuildSourceOptions extends RunnerApiOptions {
  /** Where downloaded artifacts are kept (see ArtifactCache). */
  cacheDir: string;
  /** Copies kept in the cache (default 3). */
  keep?: number;
  /** Longest pause between looks while the API does not answer (default 30 s). */
  maxPollMs?: number;
  logger: Logger;
}

/**
 * Builds of one target of a manager's REST API (`cicd runner --api URL --target NAME`), for a
 * runner on a machine without the manager's disk: the list is `GET …/artifacts` (builds.json as
 * the manager holds it), artifacts are downloaded into an ArtifactCache, a failed build is
 * marked bad with `POST …/builds/:key/mark-bad`, and changes are found by polling.
 *
 * An API that cannot be reached for a while is not "no good build". The source keeps the last
 * list it got and answers with it (with its own marks applied), so the runner goes on deciding as
 * before: the running build keeps running, a failing one still falls back to an older good build
 * whose copy is in the cache. Marks the API did not take are kept and sent again before each
 * later look. The outage is logged once when it starts and once when it ends; polling backs off
 * meanwhile (PollFeed). Only with no list at all yet (the very first look) does `list()` throw
 * UNAVAILABLE.
 */
export class ApiBuildSource implements BuildSource {
  readonly where: string;
  readonly cache: ArtifactCache;
  private readonly api: RunnerApi;
  private readonly log: Logger;
  /** The last list the API gave. */
  private last: BuildsDocument | undefined;
  /** Marks the API has not taken yet, by key (oldest first). */
  private readonly unsent = new Map<string, BadInfo>();
  /** Set while the API does not answer: the last reason it gave. */
  private outage: string | undefined;

  constructor(private readonly options: ApiBuildSourceOptions) {
    this.where = `${options.url} (target ${options.target})`;
    this.api = new RunnerApi(options);
    this.cache = new ArtifactCache(options.cacheDir, options.keep);
    this.log = options.logger;
  }

  async list(): Promise<BuildsDocument> {
    try {
      await this.sendUnsent();
      this.last = await this.api.builds();
      this.answered();
    } catch (error) {
      if (!isCicdError(error, "UNAVAILABLE") || !this.last) throw error;
      this.unreachable(error);
    }
    return this.withUnsentMarks(this.last);
  }

  /** The cached copy when it is whole, else a download into the cache (then older copies are pruned). */
  async fetchArtifact(build: BuildRecord, name: string): Promise<string> {
    const size = build.sizes?.[name];
    const cached = await this.cache.get(name, size);
    if (cached) return cached;
    let file: string;
    try {
      const download = await this.api.download(name);
      file = await this.cache.put(name, download.body, { size: size ?? download.size, sha256: download.sha256 }, download.abort);
      this.answered();
    } catch (error) {
      if (isCicdError(error, "UNAVAILABLE")) this.unreachable(error);
      throw error;
    }
    const removed = await this.cache.prune(file);
    if (removed.length) this.log.debug(`removed ${removed.length} old artifact(s) from ${this.cache.dir}: ${removed.join(", ")}`);
    return file;
  }

  async markBad(key: string, info: BadInfo): Promise<boolean> {
    try {
      const record = await this.api.markBad(key, info);
      this.answered();
      return record !== undefined;
    } catch (error) {
      if (!isCicdError(error, "UNAVAILABLE")) throw error;
      this.unreachable(error);
      // The runner falls back now, as with a local builds.json; the API hears of it later.
      this.unsent.set(key, info);
      this.log.warn(`${key} is marked bad here; it will be marked bad at ${this.options.url} once the API answers`);
      return true;
    }
  }

  watch(pollMs: number): BuildsFeed {
    return new PollFeed(() => this.look(), { intervalMs: pollMs, maxIntervalMs: Math.max(pollMs, this.options.maxPollMs ?? 30_000) });
  }

  /** One last try to deliver marks the API has not taken (a runner that ends should not lose them). */
  async close(): Promise<void> {
    await this.sendUnsent().catch(() => undefined);
    if (this.unsent.size) this.log.warn(`could not mark ${[...this.unsent.keys()].join(", ")} bad at ${this.options.url}: the API did not answer`);
  }

  /** For the feed: reads the list; `changed` when it differs from the one before. */
  private async look(): Promise<Look> {
    const before = this.last === undefined ? undefined : JSON.stringify(this.last);
    try {
      await this.sendUnsent();
      this.last = await this.api.builds();
      this.answered();
      return { ok: true, changed: JSON.stringify(this.last) !== before };
    } catch (error) {
      // Not only UNAVAILABLE: a token revoked while a build runs is no reason to stop it either.
      this.unreachable(error);
      return { ok: false, changed: false };
    }
  }

  /** Sends the marks the API has not taken, oldest first; stops at the first that fails. */
  private async sendUnsent(): Promise<void> {
    for (const [key, info] of [...this.unsent]) {
      await this.api.markBad(key, info);
      this.unsent.delete(key);
      this.answered();
      this.log.info(`marked ${key} bad at ${this.options.url}`);
    }
  }

  private withUnsentMarks(doc: BuildsDocument): BuildsDocument {
    if (!this.unsent.size) return doc;
    return { ...doc, builds: doc.builds.map((b) => (this.unsent.has(b.key) && b.status === "good" ? { ...b, status: "bad" as const, ...this.unsent.get(b.key) } : b)) };
  }

  private unreachable(error: unknown): void {
    const message = errorMessage(error);
    if (this.outage === message) return;
    // Said once per outage, not once per look: a server going down answers ECONNRESET, then
    // ECONNREFUSED, then maybe a timeout; the changes are for LOG_LEVEL=debug only.
    if (this.outage === undefined) this.log.warn(`${message} Whatever runs keeps running; trying again with back-off.`);
    else this.log.debug(message);
    this.outage = message;
  }

  private answered(): void {
    if (this.outage === undefined) return;
    this.outage = undefined;
    this.log.info(`the cicd API at ${this.options.url} answers again`);
  }
}
