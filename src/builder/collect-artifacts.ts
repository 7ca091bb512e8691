import { chmod, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { glob } from "tinyglobby";
import { errors } from "../shared/errors.js";
import { assertRelativePath, isInside } from "../shared/safe-path.js";

/**
 * Finds the files the build produced. Every pattern is a glob relative to the workspace and must
 * match at least one file (ARTIFACT_NOT_FOUND otherwise). A pattern that is absolute or climbs
 * out with `..`, or a match whose real path (symlinks followed) lies outside the workspace, is
 * refused with UNSAFE_PATH: a build must not publish files of the builder's host. Returns real
 * absolute paths, each once, in pattern order.
 */
export async function collectArtifacts(workspace: string, patterns: string[]): Promise<string[]> {
  const root = await realpath(workspace);
  const found: string[] = [];
  for (const pattern of patterns) {
    assertRelativePath("artifact pattern", pattern);
    const matches = await glob(pattern, {
      cwd: root,
      absolute: false,
      dot: true,
      onlyFiles: true,
      expandDirectories: false,
      followSymbolicLinks: true,
    });
    let files = 0;
    for (const match of matches.sort()) {
      const real = await realpath(path.join(root, match));
      if (!isInside(root, real)) throw errors.unsafePath("artifact", match, "it resolves outside the workspace");
      const info = await stat(real);
      if (!info.isFile()) continue;
      files++;
      // Runners and the host's users read the published copy, which keeps this mode.
      if ((info.mode & 0o444) !== 0o444) await chmod(real, info.mode | 0o444);
      if (!found.includes(real)) found.push(real);
    }
    if (!files) throw errors.artifactNotFound(pattern);
  }
  return found;
}
