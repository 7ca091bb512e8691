import { formatDuration } from "../../shared/duration.js";
import { errors } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import type { Role } from "../types.js";
import { packageRoot } from "../project-root.js";
import { buildContext } from "./build-context.js";
import { BUNDLE_LABEL, bundleHash, recipeFiles } from "./bundle-hash.js";
import { dockerMessage, dockerStatus } from "./docker-errors.js";
import { Readable } from "node:stream";
import type Dockerode from "dockerode";
import { followProgress, progressError, type ProgressEvent } from "./json-lines.js";

/** How long an image found ready is trusted without asking the engine again. */
const VERIFIED_FOR_MS = 60_000;

/** Tags of the images cicd builds itself from docker/, by role. */
export type BuiltInImages = Record<Role, string>;

/**
 * Makes images ready before a workload starts. The built-in images are (re)built from
 * docker/<role>.Dockerfile when missing or built from another bundle; any other image is used
 * if present, else pulled. Concurrent calls for one image share one build.
 */
export class ImagePreparer {
  private readonly inFlight = new Map<string, Promise<void>>();
  /** When each image was last found ready: a build does not pay an engine round trip each time. */
  private readonly verified = new Map<string, number>();

  /** When each image's build or pull began: a caller that joins it is told how long it has run. */
  private readonly since = new Map<string, number>();

  /**
   * `serverLog`, when given, is told too when an image is built or pulled (start, each build
   * step, the time it took): a build's own log is not where an operator watches a first start.
   */
  constructor(
    private readonly docker: Dockerode,
    private readonly projectRoot: string,
    private readonly builtIn: BuiltInImages,
    private readonly serverLog?: Logger,
  ) {}

  prepare(image: string, log: Logger): Promise<void> {
    const key = normalise(image);
    const running = this.inFlight.get(key);
    if (running) {
      const started = this.since.get(key);
      if (started !== undefined) log.info(`Waiting for image ${image}, being made for another build (for ${formatDuration(Date.now() - started)} so far)`);
      return running;
    }
    if (Date.now() - (this.verified.get(key) ?? 0) < VERIFIED_FOR_MS) return Promise.resolve();
    const role = (Object.keys(this.builtIn) as Role[]).find((r) => normalise(this.builtIn[r]) === key);
    const work = (role ? this.ensureBuilt(image, role, log) : this.ensurePresent(image, log))
      .then(() => void this.verified.set(key, Date.now()))
      .finally(() => {
        this.inFlight.delete(key);
        this.since.delete(key);
      });
    this.inFlight.set(key, work);
    return work;
  }

  private async ensureBuilt(image: string, role: Role, log: Logger): Promise<void> {
    const hash = await bundleHash(this.projectRoot, role);
    const previous = await this.inspect(image);
    if (previous?.labels[BUNDLE_LABEL] === hash) return;
    const { dockerfile, bundle } = recipeFiles(role);
    const started = this.began(image);
    const say = this.teller(log);
    // The first build of the builder image is most of a new user's first build: say so, and how long.
    say(previous ? `Rebuilding image ${image}: cicd was upgraded (${TAKES}; each step follows)` : `Building image ${image} on first use (${TAKES}; each step follows)`, { dockerfile });
    const context = await buildContext(this.projectRoot, [dockerfile, bundle.slice(0, bundle.lastIndexOf("/"))]);
    try {
      const stream = await this.docker.buildImage(Readable.from([context]), { t: image, dockerfile, labels: { [BUNDLE_LABEL]: hash }, rm: true, forcerm: true });
      await followProgress(stream, (event) => {
          progress(event, log);
          // Only the step lines reach the server's log: the commands' output stays in the build's.
          if (this.serverLog && this.serverLog !== log) for (const step of stepLines(event)) this.serverLog.info(`${image}: ${step}`);
      });
    } catch (error) {
      throw errors.executorFailed(`Building image ${image} from ${dockerfile} failed: ${dockerMessage(error)}`);
    }
    say(`Built image ${image} in ${formatDuration(Date.now() - started)}`);
    // The image of the previous cicd is now untagged: drop it unless a container still uses it.
    if (previous) await this.docker.getImage(previous.id).remove().catch(() => undefined);
  }

  private async ensurePresent(image: string, log: Logger): Promise<void> {
    if (await this.inspect(image)) return;
    const started = this.began(image);
    const say = this.teller(log);
    say(`Pulling image ${image}`);
    try {
      await followProgress(await this.docker.pull(image), (event) => progress(event, log));
    } catch (error) {
      throw errors.executorFailed(
        `Image ${image} is not on this machine and pulling it failed: ${dockerMessage(error)}. Build or load it (docker build / docker load), or fix the image name.`,
      );
    }
    say(`Pulled image ${image} in ${formatDuration(Date.now() - started)}`);
  }

  private began(image: string): number {
    const now = Date.now();
    this.since.set(normalise(image), now);
    return now;
  }

  /** Says a line to the caller's log and, when it is another one, to the server's. */
  private teller(log: Logger): (message: string, fields?: Record<string, unknown>) => void {
    return (message, fields) => {
      log.info(message, fields);
      if (this.serverLog && this.serverLog !== log) this.serverLog.info(message, fields);
    };
  }

  /** The image's id and labels, or undefined when there is no such image. */
  private async inspect(image: string): Promise<{ id: string; labels: Record<string, string> } | undefined> {
    try {
      const info = await this.docker.getImage(image).inspect();
      return { id: info.Id, labels: info.Config?.Labels ?? {} };
    } catch (error) {
      if (dockerStatus(error) === 404) return undefined;
      throw errors.executorFailed(`Cannot inspect image ${image}: ${dockerMessage(error)}`);
    }
  }
}

/** What a first build of the built-in images takes (README "Prerequisites" gives the measured figure). */
const TAKES = "usually under a minute, longer when the base image must be pulled first";

/** `Step 3/9 : RUN …` lines of a classic build's output. */
function stepLines(event: ProgressEvent): string[] {
  return (event.stream ?? "").split("\n").filter((line) => /^Step \d+\/\d+ :/.test(line)).map((line) => line.trimEnd());
}

/** Build and pull progress into `log` line by line; errors too (the call then rejects with the first). */
function progress(event: ProgressEvent, log: Logger): void {
  const error = progressError(event);
  if (error) log.error(error);
  for (const line of (event.stream ?? "").split("\n")) if (line.trim()) log.info(line.trimEnd());
  // Layer download ticks are noise; their start and end lines are not.
  if (event.status && !event.progress) log.debug(`${event.id ? `${event.id}: ` : ""}${event.status}`);
}

/** The preparer of an executor's images: the built-in ones from `projectRoot` (default: the cicd package), under the given or default tags. */
export function builtInImagePreparer(docker: Dockerode, options: { projectRoot?: string; images?: Partial<BuiltInImages> }, serverLog: Logger): ImagePreparer {
  return new ImagePreparer(docker, options.projectRoot ?? packageRoot(), {
    builder: options.images?.builder ?? "cicd-builder",
    runner: options.images?.runner ?? "cicd-runner",
  }, serverLog);
}

/** "name" and "name:latest" are one image; a digest or tag is kept as written. */
function normalise(image: string): string {
  const last = image.slice(image.lastIndexOf("/") + 1);
  return last.includes(":") || last.includes("@") ? image : `${image}:latest`;
}
