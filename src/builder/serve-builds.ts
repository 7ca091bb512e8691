import { get, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { errorMessage } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { fetchBuild } from "./fetch-build.js";
import type { Broadcaster } from "./broadcaster.js";
import type { BuilderSession } from "./builder-session.js";
import { createEndpoint } from "./http-endpoint.js";
import type { BuildOutcome } from "./run-build.js";

export interface ServeOptions {
  session: BuilderSession;
  broadcaster: Broadcaster;
  builderId: string;
  host: string;
  port: number;
  /** Required from callers of the endpoint when set (the manager token). */
  token?: string;
  /** Serve one build, then stop. Otherwise builds are served one after another, with `ready` again after each. */
  once: boolean;
  /** Serve up to this many builds for the manager that started it, `ready` again after each (see accepted()). */
  maxBuilds?: number;
  /** With maxBuilds: how long to wait for the next build before ending (default IDLE_EXIT_MS). */
  idleExitMs?: number;
  /**
   * Fetch the build from the manager (after `ready`) rather than wait for it to be sent: for
   * builders the manager cannot connect to. `managerUrl` is the events URL.
   */
  fetchFrom?: { managerUrl: string; token: string };
  log: Logger;
}

export interface ServeHandle {
  /** The port actually listened on (useful with port 0). */
  port: number;
  /**
   * Resolves with the exit code: with `once`, after the one build ended and its last event was
   * delivered or given up (0 success, 1 failure); otherwise after close() (0).
   */
  finished: Promise<number>;
  /** Stops listening, stops a running build, waits for pending events. Idempotent. */
  close(): Promise<void>;
}

/** How long a builder with `--max-builds` waits for its next build before it ends (the manager keeps it a minute). */
const IDLE_EXIT_MS = 90_000;

/** Listens for builds, announces `ready` with the port, and serves builds one at a time. */
export async function serveBuilds(o: ServeOptions): Promise<ServeHandle> {
  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (finish = resolve));
  let lastBuild: Promise<BuildOutcome> | undefined;
  let closing: Promise<void> | undefined;
  let served = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  const end = async (code: number) => {
    clearTimeout(idleTimer);
    await stop();
    finish(code);
  };

  const server: Server = createEndpoint({
    session: o.session,
    token: o.token,
    log: o.log,
    onBuild: (done) => accepted(done),
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  await warmUp(o.host, port, o.token);
  o.log.info("builder ready", { host: o.host, port, once: o.once });
  void o.broadcaster.send({ type: "ready", builderId: o.builderId, at: new Date().toISOString(), port, pid: process.pid });
  const fetching = new AbortController();
  if (o.fetchFrom) void takeFetchedBuild(o, fetching.signal, (done) => accepted(done));

  function accepted(done: Promise<BuildOutcome>): void {
    lastBuild = done;
    clearTimeout(idleTimer);
    if (o.maxBuilds !== undefined) {
      // A builder the manager reuses: once the build's end is told and its workspace gone,
      // `ready` again. It ends as a one-build builder would (so that a manager started again
      // reads its exit) after its last build, when the manager did not hear of this build's
      // end, or after IDLE_EXIT_MS without a build.
      served++;
      void done.then(async (outcome) => {
        const toldEnd = await o.session.finalTold;
        await o.broadcaster.drain();
        if (closing) return;
        if (served >= o.maxBuilds! || !toldEnd) return end(outcome.ok && toldEnd ? 0 : 1);
        if (o.session.status().state === "building") return; // taken already: its own end says ready
        const servedBefore = served;
        const toldReady = await o.broadcaster.send({ type: "ready", builderId: o.builderId, at: new Date().toISOString(), port, pid: process.pid });
        // The manager may hand the next build over before this answer is read: that build decides.
        if (closing || served !== servedBefore || o.session.status().state === "building") return;
        if (!toldReady) return end(1);
        idleTimer = setTimeout(() => void end(0), o.idleExitMs ?? IDLE_EXIT_MS);
        idleTimer.unref();
        // A builder the manager cannot reach asks for its next build, as it did for its first.
        // Given none (the manager no longer knows it): it ends rather than wait out its idle time.
        if (o.fetchFrom) void takeFetchedBuild(o, fetching.signal, (next) => accepted(next)).then((took) => {
          if (!took && !closing) void end(1);
        });
      });
      return;
    }
    if (!o.once) return;
    void done.then(async (outcome) => {
      await stop();
      finish(outcome.ok ? 0 : 1);
    });
  }

  function stop(): Promise<void> {
    fetching.abort();
    closing ??= (async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await o.broadcaster.drain();
    })();
    return closing;
  }

  return {
    port,
    finished,
    close: async () => {
      o.session.abort();
      const outcome = await lastBuild?.catch(() => undefined);
      await stop();
      finish(o.once && outcome ? (outcome.ok ? 0 : 1) : 0);
    },
  };
}

/** Fetches the build from the manager and starts it, as `POST /build` would have; false when none was started. */
async function takeFetchedBuild(o: ServeOptions, signal: AbortSignal, onBuild: (done: Promise<BuildOutcome>) => void): Promise<boolean> {
  const request = await fetchBuild({ ...o.fetchFrom!, builderId: o.builderId, log: o.log, signal });
  if (!request) return false;
  try {
    const answer = o.session.start(o.session.specFor(request));
    if (!answer.accepted) {
      o.log.error("fetched a build while busy", { key: answer.key });
      return false;
    }
    o.log.info("build accepted", { key: answer.key });
    onBuild(answer.done);
    return true;
  } catch (error) {
    o.log.error("the fetched build cannot be built", { error: errorMessage(error) });
    return false;
  }
}

/**
 * Asks the endpoint for its status once, before announcing `ready`. The first request a fresh
 * Node process serves runs its HTTP code cold: 15-20 ms in a builder container, measured, and
 * without this the build's own request paid it, on the path from trigger to artifact.
 * Best effort: a failure here only means the build's request will be the first.
 */
function warmUp(host: string, port: number, token: string | undefined): Promise<void> {
  const address = host === "0.0.0.0" || host === "::" || host === "" ? "127.0.0.1" : host;
  return new Promise((resolve) => {
    const request = get({ host: address, port, path: "/status", headers: token ? { authorization: `Bearer ${token}` } : {}, timeout: 2_000 }, (response) => {
      response.resume();
      response.once("end", resolve);
      response.once("error", () => resolve());
    });
    request.once("timeout", () => request.destroy());
    request.once("error", () => resolve());
  });
}
