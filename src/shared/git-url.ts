import { createHash } from "node:crypto";

/** A repository's identity for the cache: no credentials, scheme and host in lower case, no trailing slash. */
export function normalizeGitUrl(url: string): string {
  const text = url.trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return text.replace(/\/+$/, "");
  try {
    const u = new URL(text);
    if (/^https?:$/.test(u.protocol)) {
      u.username = "";
      u.password = "";
    }
    u.hash = "";
    return u.toString().replace(/\/+$/, "");
  } catch {
    return text.replace(/\/+$/, "");
  }
}

/**
 * `sha256(normalized URL)`, first 16 hex digits: the name of a repository's mirror, both under a
 * builder's `--git-cache` and in the folder the manager mounts as `--git-mirror`.
 */
export function mirrorKey(url: string): string {
  return createHash("sha256").update(normalizeGitUrl(url)).digest("hex").slice(0, 16);
}
