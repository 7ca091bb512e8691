import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { errors } from "../../shared/errors.js";
import type { Role } from "../types.js";

/** Image label holding the hash of what an image was built from. */
export const BUNDLE_LABEL = "cicd.bundle";

/** Where a built-in image's recipe lives, relative to the project root. */
export function recipeFiles(role: Role): { dockerfile: string; bundle: string } {
  return { dockerfile: `docker/${role}.Dockerfile`, bundle: "docker/build/cicd.mjs" };
}

/**
 * Identifies what an image is built from: sha256 of the bundle's bytes, then the Dockerfile's,
 * first 16 hex characters. test/helpers/images.ts uses the same scheme, so an image built by
 * either is accepted by both; an upgraded cicd has another hash and rebuilds its images.
 */
export async function bundleHash(projectRoot: string, role: Role): Promise<string> {
  const files = recipeFiles(role);
  const [bundle, dockerfile] = await Promise.all([
    readRecipe(projectRoot, files.bundle, "Run `npm run build` to create the container bundle."),
    readRecipe(projectRoot, files.dockerfile, "Reinstall cicd: the package ships it."),
  ]);
  return createHash("sha256").update(bundle).update(dockerfile).digest("hex").slice(0, 16);
}

async function readRecipe(root: string, file: string, hint: string): Promise<Buffer> {
  try {
    return await readFile(path.join(root, file));
  } catch {
    throw errors.executorFailed(`Cannot build the image: ${path.join(root, file)} is missing. ${hint}`);
  }
}
