import { realpath } from "node:fs/promises";
import path from "node:path";
import { errors } from "./errors.js";

/** Target names as the contract defines them. */
export const TARGET_NAME = /^[a-z0-9][a-z0-9._-]*$/;
/** A build key: it also names log files, so nothing else gets in. */
export const BUILD_KEY = /^[A-Za-z0-9_-]{6,64}$/;
/** A full or abbreviated commit sha. */
export const COMMIT_SHA = /^[0-9a-f]{7,64}$/i;

export function assertTargetName(name: unknown): string {
  if (typeof name !== "string" || !TARGET_NAME.test(name) || name.length > 100 || name.includes("..")) {
    throw errors.invalidArgument("target", "a name matching [a-z0-9][a-z0-9._-]* (at most 100 characters)", name);
  }
  return name;
}

/**
 * Checks a user-supplied relative path: not absolute, no `..` segment, no NUL.
 * Returns it normalised with forward slashes.
 */
export function assertRelativePath(what: string, p: string): string {
  if (p.includes("\0")) throw errors.unsafePath(what, p, "contains a NUL byte");
  if (path.isAbsolute(p) || /^[a-zA-Z]:[\\/]/.test(p)) throw errors.unsafePath(what, p, "absolute paths are not allowed");
  const parts = p.split(/[\\/]+/);
  if (parts.includes("..")) throw errors.unsafePath(what, p, "`..` is not allowed");
  return parts.filter((s) => s !== "" && s !== ".").join("/");
}

/**
 * Resolves `rel` inside `root` and proves that the real path (symlinks followed) stays inside the
 * real root. The file must exist. Returns the real path.
 */
export async function resolveInside(root: string, rel: string, what: string): Promise<string> {
  const clean = assertRelativePath(what, rel);
  const realRoot = await realpath(root);
  const real = await realpath(path.join(realRoot, clean));
  if (!isInside(realRoot, real)) throw errors.unsafePath(what, rel, `it resolves outside ${root}`);
  return real;
}

export function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}
