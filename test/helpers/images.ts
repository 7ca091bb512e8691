import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { BUNDLE_LABEL, bundleHash, recipeFiles } from "../../src/executor/docker/bundle-hash.js";
import { withFileLock } from "../../src/servicefs/file-lock.js";

const run = promisify(execFile);
export const projectRoot = path.resolve(import.meta.dirname, "../..");

/**
 * Builds the container bundle (scripts/bundle.js) and the image `tag` from
 * docker/<role>.Dockerfile when the image is missing or was built from another bundle.
 * Serialised across test files with a lock, so parallel suites build each image once.
 */
export async function ensureImage(role: "builder" | "runner", tag = `cicd-${role}`): Promise<string> {
  return withFileLock(path.join(projectRoot, "node_modules", `.cicd-image-${role}.lock`), async () => {
    await run("node", ["scripts/bundle.js"], { cwd: projectRoot });
    const hash = await bundleHash(projectRoot, role);
    const current = await run("docker", ["image", "inspect", tag, "--format", `{{index .Config.Labels "${BUNDLE_LABEL}"}}`])
      .then((r) => r.stdout.trim())
      .catch(() => "");
    if (current !== hash) {
      await run("docker", ["build", "-q", "-f", recipeFiles(role).dockerfile, "--label", `${BUNDLE_LABEL}=${hash}`, "-t", tag, "."], {
        cwd: projectRoot,
        maxBuffer: 64 * 1024 * 1024,
      });
    }
    return tag;
  }, { timeoutMs: 600_000, staleMs: 900_000 });
}
