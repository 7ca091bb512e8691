import { copyFile, mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { errors } from "../shared/errors.js";
import { BUILD_KEY } from "../shared/safe-path.js";
import { writeFileAtomic, fsyncFile } from "./atomic-write.js";
import { artifactFileIn } from "./service-fs.js";

export interface StoredArtifact {
  name: string;
  size: number;
}

/** Hidden: artifact names never start with a dot (artifactFileIn refuses them), so none collides. */
const MANIFEST = ".manifest.json";

/**
 * Artifacts kept by build key, outside every target's `builds.json`: a pull request's build is
 * never published where runners look, yet its files stay downloadable
 * (`GET /api/v1/builds/:key/artifacts/:file`). `<root>/<key>/<file>` plus `.manifest.json`,
 * written last: a key with a manifest is complete, one without is not (a crash in between).
 */
export class BuildArtifacts {
  constructor(readonly root: string) {}

  private dir(key: string): string {
    if (!BUILD_KEY.test(key)) throw errors.invalidArgument("build key", "6-64 letters, digits, - or _", key);
    return path.join(this.root, key);
  }

  /** Moves (or copies, across file systems) the files in under their names; then the manifest. */
  async store(key: string, files: { path: string; name: string }[]): Promise<StoredArtifact[]> {
    const dir = this.dir(key);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const stored: StoredArtifact[] = [];
    for (const file of files) {
      const name = path.basename(file.name).replace(/^\.+/, "_");
      const to = path.join(dir, name);
      await rename(file.path, to).catch(async (error: NodeJS.ErrnoException) => {
        if (error.code !== "EXDEV") throw error;
        await copyFile(file.path, to);
      });
      await fsyncFile(to);
      stored.push({ name, size: (await stat(to)).size });
    }
    await writeFileAtomic(path.join(dir, MANIFEST), `${JSON.stringify({ key, artifacts: stored }, null, 2)}\n`);
    return stored;
  }

  /** The build's artifacts, or undefined when none were stored (or storing never finished). */
  async list(key: string): Promise<StoredArtifact[] | undefined> {
    const text = await readFile(path.join(this.dir(key), MANIFEST), "utf8").catch(() => undefined);
    if (text === undefined) return undefined;
    try {
      const doc = JSON.parse(text) as { artifacts?: StoredArtifact[] };
      return Array.isArray(doc.artifacts) ? doc.artifacts : undefined;
    } catch {
      return undefined;
    }
  }

  /** Absolute path of one stored artifact; refuses names that are not plain file names. */
  async file(key: string, name: string): Promise<string> {
    return artifactFileIn(this.dir(key), name);
  }

  async remove(key: string): Promise<void> {
    await rm(this.dir(key), { recursive: true, force: true });
  }
}
