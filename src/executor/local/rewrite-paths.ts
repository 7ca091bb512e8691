import type { Mount } from "../types.js";

/**
 * Maps container paths to host paths for workloads without containers: a value that is a
 * mount's `container` path, or starts with it followed by "/", gets the mount's `host` path
 * instead; so does the value part of a `--flag=/container/path` argument. The longest
 * (innermost) mount wins.
 */
export function rewritePath(value: string, mounts: Mount[]): string {
  const flag = /^(--[^=]+=)(.*)$/s.exec(value);
  if (flag) return flag[1]! + rewriteOne(flag[2]!, mounts);
  return rewriteOne(value, mounts);
}

function rewriteOne(value: string, mounts: Mount[]): string {
  const byDepth = [...mounts].sort((a, b) => b.container.length - a.container.length);
  for (const { container, host } of byDepth) {
    const inside = container.replace(/\/+$/, "");
    if (value === inside || value === container) return host;
    if (value.startsWith(`${inside}/`)) return host.replace(/\/+$/, "") + value.slice(inside.length);
  }
  return value;
}

export function rewriteEnv(env: Record<string, string>, mounts: Mount[]): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([name, value]) => [name, rewritePath(value, mounts)]));
}
