import { chmod, stat } from "node:fs/promises";
import path from "node:path";
import { errors } from "../shared/errors.js";
import { baseEnv, runProcess } from "./run-process.js";

/**
 * The user a build's commands run as, when it is not the builder's own. The builder keeps its
 * callback token, the clone token and the git mirror to itself; commands under another uid
 * cannot read its memory or environment (/proc/<pid>/environ needs the same uid), signal it, or
 * write what it owns.
 */
export interface CommandUser {
  uid: number;
  gid: number;
}

/** "1000", "1000:1000" → a CommandUser; "root" or "0" → undefined (the builder's own user). */
export function parseCommandUser(text: string): CommandUser | undefined {
  const m = /^(\d+)(?::(\d+))?$/.exec(text.trim());
  if (text.trim() === "root") return undefined;
  if (!m) throw errors.invalidArgument("--user", "a uid, uid:gid (e.g. 1000:1000) or root", text);
  const uid = Number(m[1]);
  const gid = m[2] === undefined ? uid : Number(m[2]);
  if (uid > 0x7fffffff || gid > 0x7fffffff) throw errors.invalidArgument("--user", "a uid and gid below 2^31", text);
  return uid === 0 ? undefined : { uid, gid };
}

/**
 * Checks at start that this builder can run commands as `user`: only root (CAP_SETUID) can.
 * Throws INVALID_ARGUMENT otherwise, so a misconfigured builder fails before it takes a build.
 */
export function assertCanSwitchTo(user: CommandUser | undefined): void {
  if (!user || process.getuid?.() === user.uid) return;
  if (process.getuid?.() !== 0) {
    throw errors.invalidArgument("--user", `a user this builder can switch to (it runs as uid ${process.getuid?.()}, not root)`, `${user.uid}:${user.gid}`);
  }
}

/** Gives `dirs` (recursively) to the commands' user. */
export async function handOver(dirs: string[], user: CommandUser | undefined, signal?: AbortSignal): Promise<void> {
  if (!user || process.getuid?.() === user.uid || !dirs.length) return;
  const result = await runProcess("chown", ["-R", "--no-dereference", `${user.uid}:${user.gid}`, "--", ...dirs], { env: baseEnv(), signal });
  if (result.code !== 0) throw errors.executorFailed(`Could not give the workspace to uid ${user.uid}: ${result.stderr.trim().split("\n").slice(-2).join(" / ")}`);
}

/**
 * Lets the commands' user reach `dir` through its parents: a cache folder such as /root/.m2 sits
 * in a folder only root may enter. Adds search (x) for others, never read or write.
 */
export async function makeReachable(dir: string): Promise<void> {
  for (let at = path.dirname(path.resolve(dir)); at !== path.dirname(at); at = path.dirname(at)) {
    const info = await stat(at).catch(() => undefined);
    if (info && (info.mode & 0o001) === 0) await chmod(at, info.mode | 0o001).catch(() => undefined);
  }
}

/** spawn() options that run a child as `user`; empty when commands run as the builder. */
export function spawnIdentity(user: CommandUser | undefined): { uid?: number; gid?: number } {
  if (!user || process.getuid?.() === user.uid) return {};
  return { uid: user.uid, gid: user.gid };
}
