import { createHash, randomBytes } from "node:crypto";
import type { BuilderEvent, BuildRequest } from "../shared/protocol.js";
import { sameSecret } from "../shared/same-secret.js";

type Wanted = BuilderEvent["type"] | "final";
type Waiter = { type: Wanted; resolve: (event: BuilderEvent) => void };

interface Entry {
  tokenHash: string;
  /** The build this builder serves now (one from its start; a reused one, one after another). */
  key?: string;
  events: BuilderEvent[];
  waiters: Waiter[];
  /** The build request handed over for the builder to fetch (builders the manager cannot reach). */
  offered?: { request: BuildRequest; fetched: () => void };
  /** A builder's fetch waiting for the request to be offered. */
  fetching?: (request: BuildRequest | undefined) => void;
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export function newToken(): string {
  return randomBytes(24).toString("base64url");
}

/**
 * Routes builder broadcasts to the dispatch waiting for them. Each builder gets its own
 * callback token; only its hash is kept (in memory and in the store), so a builder can only
 * speak for itself and a leaked database holds no usable token.
 */
export class BuilderCallbacks {
  private readonly builders = new Map<string, Entry>();

  register(builderId: string, tokenHash: string, key?: string): void {
    if (!this.builders.has(builderId)) this.builders.set(builderId, { tokenHash, key, events: [], waiters: [] });
  }

  /** The build key of a builder whose token is `token`, or undefined (unknown builder, wrong token). */
  keyOf(builderId: string, token: string): string | undefined {
    const entry = this.builders.get(builderId);
    if (!entry || !sameHash(entry.tokenHash, hashToken(token))) return undefined;
    return entry.key;
  }

  unregister(builderId: string): void {
    this.builders.delete(builderId);
  }

  /** Records an event. Returns false when the builder is unknown or the token is wrong. */
  receive(token: string, event: BuilderEvent): boolean {
    const entry = this.builders.get(event.builderId);
    if (!entry || !sameHash(entry.tokenHash, hashToken(token))) return false;
    entry.events.push(event);
    entry.waiters = entry.waiters.filter((w) => {
      const hit = matches(event, w.type);
      if (hit) w.resolve(event);
      return !hit;
    });
    return true;
  }

  /**
   * Resolves with the first event of `type` ("final" = success or failure), past or future;
   * with `after`, the first one that came after that event.
   */
  next(builderId: string, type: Waiter["type"], after?: BuilderEvent): Promise<BuilderEvent> {
    const entry = this.builders.get(builderId);
    if (!entry) return Promise.reject(new Error(`builder ${builderId} is not registered`));
    const from = after ? entry.events.indexOf(after) + 1 : 0;
    const seen = entry.events.slice(from).find((e) => matches(e, type));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => entry.waiters.push({ type, resolve }));
  }

  /**
   * A reused builder serves `key` now: its uploads and events count for that build. What it
   * said up to its last build's end is forgotten; what came after (its `ready` again) is kept.
   */
  rebind(builderId: string, key: string): void {
    const entry = this.builders.get(builderId);
    if (!entry) return;
    entry.key = key;
    let last = -1;
    entry.events.forEach((e, i) => matches(e, "final") && (last = i));
    entry.events = entry.events.slice(last + 1);
  }

  /**
   * Hands `request` to a builder that fetches it (`take`), for executors whose workloads the
   * manager cannot connect to. Resolves once the builder has it; rejects when `signal` aborts
   * first (the request is then withdrawn).
   */
  offer(builderId: string, request: BuildRequest, signal: AbortSignal): Promise<void> {
    const entry = this.builders.get(builderId);
    if (!entry) return Promise.reject(new Error(`builder ${builderId} is not registered`));
    return new Promise((resolve, reject) => {
      const withdraw = () => {
        if (entry.offered?.request === request) entry.offered = undefined;
        reject(signal.reason instanceof Error ? signal.reason : new Error("the hand-over was aborted"));
      };
      if (signal.aborted) return withdraw();
      signal.addEventListener("abort", withdraw, { once: true });
      const fetched = () => {
        signal.removeEventListener("abort", withdraw);
        resolve();
      };
      if (entry.fetching) {
        const give = entry.fetching;
        entry.fetching = undefined;
        give(request);
        fetched();
      } else {
        entry.offered = { request, fetched };
      }
    });
  }

  /**
   * The builder's side of `offer`: resolves with its build request once offered, or with
   * undefined after `waitMs` (the builder asks again) or when `token` is not the builder's.
   * Only one fetch waits at a time; a newer one replaces it.
   */
  take(builderId: string, token: string, waitMs: number): Promise<BuildRequest | undefined> {
    const entry = this.builders.get(builderId);
    if (!entry || !sameHash(entry.tokenHash, hashToken(token))) return Promise.resolve(undefined);
    if (entry.offered) {
      const { request, fetched } = entry.offered;
      entry.offered = undefined;
      fetched();
      return Promise.resolve(request);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (entry.fetching === give) entry.fetching = undefined;
        resolve(undefined);
      }, waitMs);
      const give = (request: BuildRequest | undefined) => {
        clearTimeout(timer);
        resolve(request);
      };
      entry.fetching?.(undefined);
      entry.fetching = give;
    });
  }

  /** Whether `token` is the builder's (a fetch with a wrong one gets 401). */
  knows(builderId: string, token: string): boolean {
    const entry = this.builders.get(builderId);
    return !!entry && sameHash(entry.tokenHash, hashToken(token));
  }

  /** The final event if it has arrived. */
  final(builderId: string): BuilderEvent | undefined {
    return this.builders.get(builderId)?.events.find((e) => matches(e, "final"));
  }
}

/** Whether `event` is of type `wanted`; "final" stands for success or failure. */
function matches(event: BuilderEvent, wanted: Wanted): boolean {
  return event.type === wanted || (wanted === "final" && (event.type === "success" || event.type === "failure"));
}

/** Compares two token hashes in constant time (see sameSecret). */
function sameHash(a: string, b: string): boolean {
  return sameSecret(a, b);
}
