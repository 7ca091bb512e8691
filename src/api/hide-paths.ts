import { realpathSync } from "node:fs";
import path from "node:path";
import type { Config } from "../config/load-config.js";

/**
 * The server's own folders whose absolute paths an API answer must not show: the service file
 * system, the data folder (database, logs, caches, runner state), the config file's folder and
 * the folders of the targets' secrets files.
 */
export function serverFolders(config: Pick<Config, "file" | "servicefs" | "database" | "targets">): string[] {
  const folders = [config.servicefs, path.dirname(config.file)];
  if (config.database !== ":memory:") folders.push(path.dirname(config.database));
  for (const t of config.targets) if (t.secrets) folders.push(path.dirname(t.secrets));
  return folders;
}

/**
 * Returns a function that rewrites every absolute path under one of `folders` in a text to the
 * path relative to that folder (`/srv/cicd/data/servicefs/hello/builds.json` → `hello/builds.json`,
 * the folder itself → its last name). The deepest folder wins, so a file in the service file
 * system reads in the target's terms. Real paths are covered too: an error raised after
 * realpath() (e.g. /private/tmp for /tmp) names the resolved folder.
 */
export function pathHider(folders: readonly string[]): (text: string) => string {
  const all = new Set<string>();
  for (const folder of folders) {
    const abs = path.resolve(folder);
    all.add(abs);
    try {
      all.add(realpathSync(abs));
    } catch {
      // Not created yet: only its configured spelling can appear in a message.
    }
  }
  // "/" or a drive root would turn every path into a relative one: nothing to hide there.
  const roots = [...all].filter((r) => r !== path.parse(r).root).sort((a, b) => b.length - a.length);
  if (roots.length === 0) return (text) => text;
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  // One pass over the text with the deepest folder tried first; a root starts where a path
  // starts and ends at a separator or where a path would end, so /data matches neither
  // /database nor /x/data.
  const pattern = new RegExp(`(?<![\\w.@+/-])(${roots.map(escape).join("|")})(?:[/\\\\]|(?![\\w.@+-]))`, "g");
  return (text) =>
    text.replace(pattern, (match, root: string) => (match.length > root.length ? "" : path.basename(root)));
}
