import path from "node:path";
import { errors } from "../shared/errors.js";

/** Where a build's source comes from, as parsed from its URL. */
export type Source =
  | {
      kind: "git";
      /** The URL without credentials: what git stores as `origin` and what logs show. */
      url: string;
      /** `user:password` taken out of the URL, used like a token (never stored or printed). */
      credentials?: string;
    }
  /** `file://PATH` / `files://PATH`: a local repository (cloned) or folder or archive (copied). */
  | { kind: "local"; path: string }
  /** `servicefs://PATH`: a folder or archive inside the service file system root. */
  | { kind: "servicefs"; rel: string };

const expected = "a source URL: https://… or ssh://… or git@host:path (git), file://PATH, files://PATH or servicefs://PATH";

/** Parses a source URL. Throws INVALID_ARGUMENT (never echoing a password) for anything else. */
export function parseSource(raw: string): Source {
  const text = raw.trim();
  const local = /^files?:\/\/(.*)$/i.exec(text);
  if (local) {
    const rest = decodePath(local[1]!);
    // file://localhost/abs is the long form of file:///abs.
    const p = rest.startsWith("localhost/") ? rest.slice("localhost".length) : rest;
    if (!p) throw errors.invalidArgument("url", expected, text);
    return { kind: "local", path: path.resolve(p) };
  }
  const sfs = /^servicefs:\/\/(.*)$/i.exec(text);
  if (sfs) {
    // The root is the service file system, so servicefs:///a and servicefs://a mean the same.
    const rel = decodePath(sfs[1]!).replace(/^\/+/, "");
    if (!rel) throw errors.invalidArgument("url", "servicefs://PATH with a path inside the service file system", text);
    return { kind: "servicefs", rel };
  }
  if (/^(https?|ssh|git):\/\//i.test(text)) return gitUrl(text);
  // scp-like ssh: git@github.com:acme/hello.git
  if (/^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:.+/.test(text)) {
    return { kind: "git", url: text };
  }
  throw errors.invalidArgument("url", expected, redact(text));
}

function gitUrl(text: string): Source {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw errors.invalidArgument("url", expected, redact(text));
  }
  if (!url.hostname) throw errors.invalidArgument("url", expected, redact(text));
  // Credentials in an https URL are moved out so they never reach .git/config or a log.
  if (/^https?:$/.test(url.protocol) && (url.username || url.password)) {
    const credentials = `${decodeURIComponent(url.username || "x-access-token")}:${decodeURIComponent(url.password)}`;
    url.username = "";
    url.password = "";
    return { kind: "git", url: url.toString(), credentials };
  }
  if (url.password) {
    url.password = "";
    throw errors.invalidArgument("url", `${expected} (passwords in ssh URLs are not supported; use a key)`, url.toString());
  }
  return { kind: "git", url: text };
}

function decodePath(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}

/** Removes a password from a URL-like text, for messages. */
export function redact(text: string): string {
  return text.replace(/\/\/([^/@:]*):[^/@]*@/, "//$1:***@");
}
