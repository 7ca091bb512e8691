import { findTarget, type Config, type Target } from "../config/load-config.js";
import type { Executor, ExitInfo, WorkloadHandle } from "../executor/types.js";
import { CicdError, errorMessage, errors, isCicdError } from "../shared/errors.js";
import { endedAs, outcomeOfFailure } from "../shared/outcome.js";
import { formatDuration } from "../shared/duration.js";
import { createLogger, type Logger } from "../shared/logger.js";
import { Masker } from "../shared/mask.js";
import type { BuilderEvent, BuildRequest } from "../shared/protocol.js";
import type { ServiceFs } from "../servicefs/service-fs.js";
import type { BuildArtifacts } from "../servicefs/build-artifacts.js";
import type { BuildPatch, BuildStore } from "../store/build-store.js";
import type { ArtifactInbox } from "./artifact-inbox.js";
import { hashToken, type BuilderCallbacks } from "./builder-callbacks.js";
import type { BuilderPool, PooledBuilder } from "./builder-pool.js";
import type { BuildLogs } from "./build-logs.js";
import { prepareRequest } from "./build-request.js";
import { silentBuilderReason } from "./builder-silence.js";
import { sendBuildRequest } from "./send-build-request.js";
import { findPublished, publishBuild } from "./publish-build.js";
import { FINAL_STATUSES, type Build, type CloneTokenProvider } from "./types.js";

export interface DispatchDeps {
  config: Config;
  store: BuildStore;
  executor: Executor;
  callbacks: BuilderCallbacks;
  logs: BuildLogs;
  servicefs: ServiceFs;
  /** Uploads of builders, waiting for their build's `success`. */
  inbox: ArtifactInbox;
  /** Artifacts of builds that are not published to builds.json (pull requests), by key. */
  buildArtifacts: BuildArtifacts;
  logger: Logger;
  /** URL builders POST their events to (reachable from inside a workload). */
  callbackUrl: () => string;
  cloneToken?: CloneTokenProvider;
  /** Persists a status change and tells subscribers. */
  change: (key: string, patch: BuildPatch, how?: "update" | "dequeue") => Build;
  requeueFront: (key: string) => void;
  pool: BuilderPool;
  /** Takes work that continues after a build's result is recorded (shutdown waits for it). */
  afterBuild: (work: Promise<void>) => void;
  /** Puts an interrupted build back in the queue with `patch`, to be dispatched after `delayMs`. */
  retry: (key: string, patch: BuildPatch, delayMs: number) => void;
}

/** Why a running build was interrupted from outside. */
export type StopReason = "cancelled" | "timeout" | "shutdown" | "superseded";

export interface BuildControl {
  signal: AbortSignal;
  reason(): StopReason | undefined;
}

const READY_TIMEOUT_MS = 120_000;
/** After the workload exits, how long a late final broadcast may still arrive. */
const FINAL_EVENT_GRACE_MS = 2_000;

/** One attempt at a build: what dispatch holds while it runs, and releases at the end. */
interface Attempt {
  build: Build;
  target: Target;
  builder?: PooledBuilder;
  masker: Masker;
  /** The build's result is recorded and its builder's removal handed to `afterBuild`. */
  detached: boolean;
  /** When this attempt's dispatch began (ms), for the build's timings. */
  dispatchedAt: number;
}

type HandOverAnswer = Awaited<ReturnType<typeof handOver>>;
type Accepted = Extract<HandOverAnswer, { status: "accepted" }>;

/**
 * Runs one queued build through the dispatch protocol, as named steps:
 *  1. admit it (still queued, its target still configured, the executor may run it);
 *  2. prepare the request (secrets, token) and the builder image;
 *  3. hand it to a builder (a warm one, or a fresh one when that is stale): `accepted` →
 *     running, `busy` → back to the front of the queue;
 *  4. follow it to the end: the builder's `success` (files verified and published) or its exit,
 *     and record the result;
 *  5. release the attempt: the builder removed, the log closed.
 * Never throws: every failure ends as a build status with a reason (or another attempt).
 */
export async function dispatchBuild(deps: DispatchDeps, key: string, control: BuildControl): Promise<void> {
  const admitted = await admit(deps, key);
  if (!admitted) return;
  const attempt: Attempt = { ...admitted, masker: new Masker([]), detached: false, dispatchedAt: Date.now() };
  try {
    const request = await prepare(deps, attempt, control);
    if (!request) return finishStopped(deps, key, control, attempt.target);
    const answer = await handOverToBuilder(deps, attempt, request, control);
    const accepted = takeAnswer(deps, attempt, control, answer);
    if (accepted) await followToTheEnd(deps, attempt, control, accepted);
  } catch (error) {
    failAttempt(deps, key, error, attempt.masker);
  } finally {
    await release(deps, attempt, control);
  }
}

/** Step 1: the build and its target, or undefined when it is not to run (its end recorded). */
async function admit(deps: DispatchDeps, key: string): Promise<Pick<Attempt, "build" | "target"> | undefined> {
  const build = deps.store.get(key);
  if (!build) return undefined;
  if (build.status !== "queued") {
    // Ended while it waited, yet still in the queue (never by this server's own writes): take
    // it out, or the next free slot would be offered it again and again.
    deps.store.dequeue(key);
    return undefined;
  }
  const target = findTarget(deps.config, build.target);
  if (!target) {
    deps.change(key, { ...endedAs("config_error"), reason: `target "${build.target}" is no longer in the configuration` }, "dequeue");
    return undefined;
  }
  if (build.untrusted && refusesUntrusted(deps.config, deps.executor)) {
    const reason = UNTRUSTED_REFUSED;
    deps.store.setMeta(key, { actionRequired: { reason } });
    deps.logs.note(key, reason);
    deps.change(key, { ...endedAs("untrusted_refused"), reason }, "dequeue");
    await deps.logs.end(key);
    return undefined;
  }
  deps.store.update(key, { attempts: build.attempts + 1 });
  return { build, target };
}

/** Step 2: the builder's request, its secrets masked from now on, the image ready; undefined when stopped meanwhile. */
async function prepare(deps: DispatchDeps, attempt: Attempt, control: BuildControl): Promise<BuildRequest | undefined> {
  const { build, target } = attempt;
  const key = build.key;
  deps.logs.note(key, `build ${key} of ${target.name} (${build.trigger}${build.ref ? ` ${build.ref}` : ""}${build.sha ? ` ${build.sha.slice(0, 12)}` : ""}), attempt ${build.attempts + 1}`);
  const prepared = await prepareRequest(build, target, deps.cloneToken);
  attempt.masker = new Masker(prepared.secrets);
  for (const note of prepared.notes) deps.logs.note(key, note);
  // A cancel or a newer push does not wait for the image (its first build can take minutes):
  // the build ends now, and the image is still made for the builds that need it.
  const toLog = (line: string) => void (control.signal.aborted || deps.logs.append(key, `${line}\n`));
  const image = deps.executor.prepareImage(target.image, createLogger("image", { write: toLog }));
  image.catch(() => undefined);
  if ((await Promise.race([image.then(() => "ready" as const), abortable(control.signal)])) === "aborted") return undefined;
  return control.signal.aborted ? undefined : prepared.request;
}

/** Step 3: a builder's answer to the build. A warm builder that turns out dead or stale is replaced by a cold one, once. */
async function handOverToBuilder(deps: DispatchDeps, attempt: Attempt, request: BuildRequest, control: BuildControl): Promise<HandOverAnswer> {
  const { build, target } = attempt;
  for (let tries = 0; ; tries++) {
    const builder = await deps.pool.acquire(build.key, target, !build.untrusted);
    attempt.builder = builder;
    deps.store.setBuilder(build.key, builder.builderId, hashToken(builder.token));
    const answer = await handOver(deps, builder, request, control, attempt.masker);
    if (answer !== "stale" || tries > 0) return answer;
    deps.logs.note(build.key, "the warm builder did not answer; starting a fresh one");
    await deps.pool.destroy(builder);
  }
}

/** Step 3, the answer: the accepted hand-over, or undefined when the attempt ends here (recorded). */
function takeAnswer(deps: DispatchDeps, attempt: Attempt, control: BuildControl, answer: HandOverAnswer): Accepted | undefined {
  const key = attempt.build.key;
  if (answer === "aborted") return void finishStopped(deps, key, control, attempt.target, attempt.builder?.handle);
  if (answer === "stale" || answer === "not-ready") return void retryOrEnd(deps, key, "the builder exited before it took the build");
  if (answer.status === "timeout") return void deps.change(key, { ...endedAs("executor_failed"), reason: answer.reason }, "dequeue");
  if (answer.status === "busy") {
    deps.logs.note(key, `builder busy with ${answer.key}; back to the front of the queue`);
    return void deps.requeueFront(key);
  }
  return answer;
}

/**
 * Step 4: running until the builder's `success` (the manager verifies and publishes its files;
 * the container's removal then happens after, outside the build's slot, so the next build need
 * not wait) or its exit, whose result is recorded.
 */
async function followToTheEnd(deps: DispatchDeps, attempt: Attempt, control: BuildControl, accepted: Accepted): Promise<void> {
  const { build, target } = attempt;
  const builder = attempt.builder!;
  // A reason left by an interrupted attempt no longer holds once this one runs.
  deps.change(build.key, { status: "running", startedAt: now(), reason: null }, "dequeue");
  const acceptedAt = Date.now();
  const exit = exitOf(builder, control.signal);
  const first = await Promise.race([
    deps.callbacks.next(builder.builderId, "final").then((event) => ({ event })),
    exit.then(() => ({ event: undefined }), () => ({ event: undefined })),
  ]);
  if (first.event?.type === "success" && !control.signal.aborted) {
    const recordFrom = Date.now();
    const result = await successOf(deps, build.key, first.event);
    deps.store.setMeta(build.key, { timings: timingsOf(attempt, acceptedAt, first.event, Date.now() - recordFrom) });
    deps.change(build.key, result);
    attempt.detached = true;
    // A builder serves another build only after one that was published: after publish_failed
    // (a full disk, say) the next build would most likely fail the same way, on a builder
    // that may be the reason.
    const keep = builder.reuse > 1 && result.status === "succeeded";
    deps.afterBuild(keep ? keepForNext(deps, build.key, builder, first.event, accepted, attempt.masker) : cleanUp(deps, build.key, builder, exit, accepted.output, attempt.masker));
    return;
  }
  // A builder that serves several builds does not end after a failed one: it is stopped (and
  // not reused), and its exit read as a one-build builder's would be.
  if (first.event && builder.reuse > 1) await builder.handle.stop(5_000).catch(() => undefined);
  const info = await exit.catch((error: unknown) => (control.signal.aborted ? undefined : Promise.reject(error)));
  if (!info || control.signal.aborted) return finishStopped(deps, build.key, control, target, builder.handle);
  await accepted.output.catch(() => undefined);
  await finishExited(deps, build.key, builder.builderId, info, target, builder.handle);
}

/** The builder's exit (pool.ts reads it once), or a rejection as soon as `signal` aborts. */
function exitOf(builder: PooledBuilder, signal: AbortSignal): Promise<ExitInfo> {
  return Promise.race([builder.exit, abortable(signal).then(() => Promise.reject(new Error("stopped waiting: the build was stopped")))]);
}

/**
 * Where a build's time went, for its record (`meta.timings`, in ms): waiting in the queue, the
 * manager's hand-over (image, builder, request), the builder's fetch, commands and upload, and
 * the manager's check and publishing of the files.
 */
function timingsOf(attempt: Attempt, acceptedAt: number, event: Extract<BuilderEvent, { type: "success" }>, recordMs: number): Record<string, number> {
  const queuedMs = Math.max(0, attempt.dispatchedAt - Date.parse(attempt.build.createdAt));
  return {
    queuedMs,
    handOverMs: acceptedAt - attempt.dispatchedAt,
    ...(event.phases ?? {}),
    recordMs,
    totalMs: Date.now() - Date.parse(attempt.build.createdAt),
  };
}

/** A step threw: an engine failure is an interruption (tried again); anything else ends the build. */
function failAttempt(deps: DispatchDeps, key: string, error: unknown, masker: Masker): void {
  const message = masker.mask(error instanceof CicdError ? error.message : `the build could not run: ${errorMessage(error)}`);
  deps.logger.error("dispatch failed", { key, error: message });
  const current = deps.store.get(key);
  if (!current || current.status === "cancelled") return;
  // The engine failed (it restarted, its socket went away): the build did nothing wrong.
  if (!(error instanceof CicdError) || error.code === "EXECUTOR_FAILED") return retryOrEnd(deps, key, message);
  deps.logs.note(key, message);
  const config = isCicdError(error, "CONFIG_INVALID") || isCicdError(error, "INVALID_ARGUMENT") || isCicdError(error, "UNSAFE_PATH");
  deps.change(key, { ...endedAs(config ? "config_error" : "executor_failed"), reason: message }, "dequeue");
}

/**
 * Step 5: the builder removed (kept on a shutdown when it outlives the manager: the next start
 * re-attaches it), the pool told, the log closed unless the build waits for another attempt.
 */
async function release(deps: DispatchDeps, attempt: Attempt, control: BuildControl): Promise<void> {
  if (attempt.detached) return;
  const key = attempt.build.key;
  deps.logs.append(key, attempt.masker.flush());
  if (attempt.builder && (control.reason() !== "shutdown" || !deps.executor.outlivesManager)) await deps.pool.destroy(attempt.builder);
  // Stopped before it took its builder (cancelled, superseded): a builder started ahead for it goes too.
  else if (!attempt.builder && control.reason() !== "shutdown") await deps.pool.discard(key);
  deps.pool.release(key);
  if (deps.store.get(key)?.status !== "queued") await deps.logs.end(key);
}

const UNTRUSTED_REFUSED =
  "Not run: this pull request comes from a fork, and the local executor would run its code as host processes with the server's own access. " +
  "To build it, use the docker executor (isolated containers), or set `untrusted: allow` in cicd.yml and build it again.";

/**
 * Whether untrusted builds (pull requests from forks) are refused: on an executor that does not
 * isolate its workloads, unless the configuration says `untrusted: allow`.
 */
export function refusesUntrusted(config: Pick<Config, "untrusted">, executor: Pick<Executor, "isolated">): boolean {
  return !executor.isolated && config.untrusted !== "allow";
}

/**
 * After a build that succeeded: let the builder exit (one that would serve on is stopped),
 * collect its last output, remove it.
 */
async function cleanUp(deps: DispatchDeps, key: string, builder: PooledBuilder, exit: Promise<ExitInfo>, output: Promise<void>, masker: Masker): Promise<void> {
  if (builder.reuse > 1) await builder.handle.stop(5_000).catch(() => undefined);
  await Promise.race([exit.catch(() => undefined), delay(30_000)]);
  await Promise.race([output.catch(() => undefined), delay(2_000)]);
  deps.logs.append(key, masker.flush());
  await deps.pool.destroy(builder);
  deps.pool.release(key);
  await deps.logs.end(key);
}

/**
 * After a build that succeeded on a builder that serves several builds: once the builder says
 * `ready` again (its workspace removed), and this build's last line has come through its
 * output (which travels apart from the events), this build's log ends and the builder waits for
 * the target's next build (pool.keep, which removes it when it has served its `reuse`). A
 * builder that does not say `ready` within 30 s is removed.
 */
async function keepForNext(deps: DispatchDeps, key: string, builder: PooledBuilder, final: BuilderEvent, accepted: Accepted, masker: Masker): Promise<void> {
  const ready = (async () => {
    const said = await Promise.race([
      deps.callbacks.next(builder.builderId, "ready", final).then(() => true, () => false),
      builder.exit.then(() => false, () => false),
      delay(30_000).then(() => false),
    ]);
    // The last line, or the end of a builder that has served its last build and exits.
    await Promise.race([accepted.lastLine, accepted.output.catch(() => undefined), delay(OUTPUT_GRACE_MS)]);
    builder.pipe(() => undefined);
    deps.logs.append(key, masker.flush());
    return said;
  })();
  await deps.pool.keepWhen(builder, ready);
  // On a shutdown the pool does not wait for `ready`: the log ends only after its last append.
  await ready;
  deps.pool.release(key);
  await deps.logs.end(key);
}

/** How long a reused builder's output may lag behind its `ready`, at most. */
const OUTPUT_GRACE_MS = 2_000;

/**
 * Why publishing failed, in the operator's terms and without the server's paths (the reason is
 * shown in the API and on GitHub): a full or read-only service file system, or builds.json that
 * cannot be read, are the usual ones.
 */
function publishProblem(error: unknown, root: string): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOSPC" || code === "EDQUOT") return "the service file system is full (no space left on the device); free space, then build again";
  if (code === "EROFS") return "the service file system is read-only; make it writable, then build again";
  if (code === "EACCES" || code === "EPERM") return "the server may not write to the service file system; check its owner and mode";
  return errorMessage(error).split(`${root}/`).join("").split(root).join("servicefs");
}

/**
 * The patch for a build whose builder said `success`: `succeeded` once its files are verified
 * and published, `error` when they are not (the build published nothing).
 */
async function successOf(deps: DispatchDeps, key: string, event: Extract<BuilderEvent, { type: "success" }>): Promise<BuildPatch> {
  const build = deps.store.get(key);
  if (!build) return { ...endedAs("publish_failed"), reason: "the build's record is gone" };
  try {
    return await publishBuild(deps, build, event, now());
  } catch (error) {
    const reason = `the build's commands passed, but its artifacts could not be published: ${publishProblem(error, deps.servicefs.root)}`;
    deps.logs.note(key, reason);
    await deps.inbox.discard(key).catch(() => undefined);
    return { ...endedAs("publish_failed"), exitCode: 0, commit: event.commit, reason, commands: event.commands ?? [] };
  }
}

/**
 * Waits for the builder to be ready and gives it the build. "stale": a warm builder that is gone
 * or refuses connections (the caller retries with a fresh one).
 */
async function handOver(deps: DispatchDeps, builder: PooledBuilder, request: BuildRequest, control: BuildControl, masker: Masker) {
  // The builder's last words are kept: if it never says `ready`, they tell why (silentBuilderReason).
  let said = "";
  // A reused builder's own line after the build's end ("build succeeded", with the key:
  // builder-session.ts): its log is whole once that has come (keepForNext).
  let raw = "";
  let seen = builder.reuse === 1; // a one-build builder's log ends with its exit
  let lastLineSeen!: () => void;
  const lastLine = new Promise<void>((resolve) => (lastLineSeen = resolve));
  const output = builder.pipe((chunk) => {
    const text = masker.write(chunk);
    said = (said + text).slice(-8192);
    deps.logs.append(request.key, text);
    if (seen) return;
    raw = (raw + chunk).slice(-4096);
    seen = raw.split("\n").some((line) => line.includes("build succeeded") && line.includes(request.key));
    if (seen) lastLineSeen();
  });
  const exited = builder.exit.then(() => undefined, () => undefined);
  const ready = await Promise.race([
    deps.callbacks.next(builder.builderId, "ready"),
    exited,
    abortable(control.signal),
    delay(READY_TIMEOUT_MS).then(() => "timeout" as const),
  ]);
  if (ready === "timeout") return { status: "timeout" as const, reason: silentBuilderReason(deps.callbackUrl(), said, READY_TIMEOUT_MS) };
  if (ready === "aborted") return ready;
  if (ready === undefined || ready.type !== "ready") return builder.warm ? ("stale" as const) : ("not-ready" as const);
  try {
    const answer = deps.executor.reachesWorkloads
      ? await sendBuildRequest(`http://${builder.handle.address}:${ready.port}`, builder.token, request)
      : await fetchedBy(deps, builder, request, control.signal);
    return { ...answer, output, lastLine };
  } catch (error) {
    if (builder.warm && !control.signal.aborted) return "stale" as const;
    throw error;
  }
}

/**
 * Hands the request to a builder the manager cannot connect to: the builder fetches it
 * (`GET /internal/builders/:id/request`). Accepted once fetched; an executor failure when the
 * builder exits first or does not fetch it within the ready timeout.
 */
async function fetchedBy(deps: DispatchDeps, builder: PooledBuilder, request: BuildRequest, signal: AbortSignal): Promise<{ status: "accepted"; key: string }> {
  const gone = new AbortController();
  void builder.exit.then(
    () => gone.abort(new Error("the builder exited before it fetched its build")),
    () => gone.abort(new Error("the builder is gone")),
  );
  try {
    await deps.callbacks.offer(builder.builderId, request, AbortSignal.any([signal, gone.signal, AbortSignal.timeout(READY_TIMEOUT_MS)]));
  } catch (error) {
    throw errors.executorFailed(`could not hand the build to its builder: ${errorMessage(error)}`);
  }
  return { status: "accepted", key: request.key };
}

/**
 * Follows a build that was already running when the manager restarted: waits for its workload
 * to exit, then records the result exactly as a live dispatch would.
 */
export async function resumeBuild(deps: DispatchDeps, build: Build, handle: WorkloadHandle, builderId: string, control: BuildControl): Promise<void> {
  const target = findTarget(deps.config, build.target);
  try {
    deps.logs.note(build.key, "manager restarted; re-attached to the running builder");
    // A builder that serves several builds (--max-builds) does not end with this one: it says
    // `ready` again after it, and is stopped then (a restarted manager keeps no builder).
    const exit = handle.wait(control.signal);
    void deps.callbacks
      .next(builderId, "final")
      .then((final) => deps.callbacks.next(builderId, "ready", final))
      .then(() => handle.stop(5_000))
      .catch(() => undefined);
    const info = await exit.catch(() => undefined);
    if (!info || control.signal.aborted) return finishStopped(deps, build.key, control, target, handle);
    await finishExited(deps, build.key, builderId, info, target, handle);
  } finally {
    if (control.reason() !== "shutdown") {
      await handle.destroy().catch(() => undefined);
      deps.callbacks.unregister(builderId);
      await deps.logs.end(build.key);
    }
  }
}

/** Records the result of an exited workload; the workload is removed first, so a finished build has none left. */
async function finishExited(deps: DispatchDeps, key: string, builderId: string, info: ExitInfo, target: Target | undefined, handle: WorkloadHandle): Promise<void> {
  let final = deps.callbacks.final(builderId);
  if (!final && !info.oomKilled) final = await Promise.race([deps.callbacks.next(builderId, "final"), delay(FINAL_EVENT_GRACE_MS).then(() => undefined)]).catch(() => undefined);
  const result = await resultOf(deps, key, info, final, target);
  await handle.destroy().catch((e: unknown) => deps.logger.warn("could not remove builder", { key, error: errorMessage(e) }));
  if (result instanceof Interrupted) retryOrEnd(deps, key, result.reason);
  else deps.change(key, result);
}

/** The build did not fail: the system running it did (the workload was stopped from outside, the engine went away). */
class Interrupted {
  constructor(readonly reason: string) {}
}

/**
 * An interrupted attempt: the build goes back in the queue while attempts remain (after a
 * back-off of 2 s, 8 s, 32 s …, so an engine that is restarting has time to come back), and
 * ends as `error` after that. Never for a build that failed on its own or was cancelled.
 */
function retryOrEnd(deps: DispatchDeps, key: string, reason: string): void {
  const build = deps.store.get(key);
  if (!build || build.status === "cancelled" || FINAL_STATUSES.includes(build.status)) return;
  const max = deps.config.maxAttempts;
  if (build.attempts < max) {
    const wait = Math.min(2_000 * 4 ** Math.max(build.attempts - 1, 0), 60_000);
    deps.logs.note(key, `${reason}; trying again in ${formatDuration(wait)} (attempt ${build.attempts + 1} of ${max})`);
    deps.retry(key, { reason: `${reason}; retrying (attempt ${build.attempts + 1} of ${max})` }, wait);
    return;
  }
  deps.logs.note(key, `${reason}; gave up after ${build.attempts} attempts`);
  deps.change(key, { ...endedAs("executor_failed"), reason: `${reason}; gave up after ${build.attempts} attempts` }, "dequeue");
}

/** Decides the build's status from the workload's exit, its final broadcast and builds.json. */
async function resultOf(deps: DispatchDeps, key: string, info: ExitInfo, final: BuilderEvent | undefined, target: Target | undefined): Promise<BuildPatch | Interrupted> {
  const limit = target?.limits?.memory ?? deps.config.limits.memory;
  if (info.oomKilled) {
    return { ...endedAs("out_of_memory"), exitCode: info.exitCode, reason: `killed for running out of memory (limit ${limit ?? "none"}); raise limits.memory or make the build use less` };
  }
  if (final?.type === "success") return successOf(deps, key, final);
  // The manager did not stop it (that is handled before), so someone else did: the engine, a person.
  if (final?.type === "failure" && final.code === "CANCELLED") return new Interrupted("the builder was stopped from outside (its container was stopped, or the engine restarted)");
  if (final?.type === "failure") {
    return { ...endedAs(outcomeOfFailure(final.code)), exitCode: final.exitCode, commit: final.commit, reason: final.reason, commands: final.commands ?? [] };
  }
  // No broadcast arrived: the build may have been published before the manager restarted.
  const build = deps.store.get(key);
  const published = build ? await findPublished(deps, build) : undefined;
  if (published) return published;
  return new Interrupted(`the builder exited (${info.signal ? `signal ${info.signal}` : `code ${info.exitCode}`}) without reporting a result`);
}

function finishStopped(deps: DispatchDeps, key: string, control: BuildControl, target: Target | undefined, handle?: WorkloadHandle): Promise<void> | void {
  const reason = control.reason();
  if (reason === "shutdown") return; // stays running/queued in the store; recovered on the next start
  const outcome = reason === "timeout" ? "timed_out" : reason === "superseded" ? "superseded" : "cancelled";
  const newer = reason === "superseded" ? deps.store.get(key)?.meta.supersededBy : undefined;
  const text =
    reason === "timeout" ? `timed out after ${formatDuration(target?.timeoutMs ?? 0)}`
    : reason === "superseded" ? `superseded by ${typeof newer === "string" ? newer : "a newer build"}`
    : "cancelled";
  deps.logs.note(key, text);
  return (async () => {
    await handle?.stop(5_000).catch((e: unknown) => deps.logger.warn("could not stop builder", { key, error: errorMessage(e) }));
    await handle?.destroy().catch((e: unknown) => deps.logger.warn("could not remove builder", { key, error: errorMessage(e) }));
    deps.change(key, { ...endedAs(outcome), reason: text }, "dequeue");
  })();
}

function abortable(signal: AbortSignal): Promise<"aborted"> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve("aborted");
    else signal.addEventListener("abort", () => resolve("aborted"), { once: true });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function now(): string {
  return new Date().toISOString();
}
