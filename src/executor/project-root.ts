import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

/**
 * The folder of the installed cicd package (the one holding package.json, bin/ and docker/).
 * Found by walking up from this file, so it works from src/ (tsx, tests) and from dist/ alike.
 */
export function packageRoot(from = import.meta.dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, "package.json");
    if (existsSync(manifest) && isCicd(manifest)) return dir;
    if (path.dirname(dir) === dir) return path.resolve(import.meta.dirname, "../..");
  }
}

function isCicd(manifest: string): boolean {
  try {
    return (JSON.parse(readFileSync(manifest, "utf8")) as { name?: unknown }).name === "cicd";
  } catch {
    return false;
  }
}
