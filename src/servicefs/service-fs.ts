import { copyFile, link, mkdir, rename, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { assertTargetName, resolveInside } from "../shared/safe-path.js";
import { errors } from "../shared/errors.js";
import { artifactName } from "./artifact-name.js";
import { BuildsFile, type BuildRecord } from "./builds-file.js";
import { fsyncDir, fsyncFile } from "./atomic-write.js";

export interface PublishInput {
  key: string;
  commit: string | null;
  ref: string | null;
  durationMs?: number;
  /**
   * The files the build produced (already checked to be in the workspace): absolute paths, or
   * a path with the file name to publish it under (files a builder uploaded to the manager).
   */
  files: (string | { path: string; name: string })[];
  /** Move the files in (they are the manager's own staged copies) instead of copying them. */
  move?: boolean;
  /** Extra fields kept in the build record (trigger, builder host, …). */
  extra?: Record<string, unknown>;
  /** Publication time; defaults to now. */
  now?: Date;
}

/**
 * The service file system: `<root>/<target>/builds.json` and the artifacts beside it. The one
 * place that knows this layout; builders publish through it and runners read through it.
 */
export class ServiceFs {
  constructor(readonly root: string) {}

  targetDir(target: string): string {
    return path.join(this.root, assertTargetName(target));
  }

  builds(target: string): BuildsFile {
    return new BuildsFile(this.targetDir(target), target);
  }

  /**
   * Publishes a good build: copies each file in under `<stem>-<UTC timestamp>.<ext>` and appends
   * the record, all under the target's lock. Two builds publishing in the same millisecond get
   * distinct names (the later one's timestamp moves on by a millisecond). Files are copied to a
   * hidden temp name first, so a reader never sees half an artifact. Publishing a key that
   * builds.json already holds changes nothing and returns that record: a key is never in
   * builds.json twice, whoever retries.
   */
  async publish(target: string, input: PublishInput): Promise<BuildRecord> {
    const dir = this.targetDir(target);
    await mkdir(dir, { recursive: true });
    const staged: { tmp: string; source: string; size: number }[] = [];
    try {
      for (const file of input.files) {
        const { path: from, name } = typeof file === "string" ? { path: file, name: file } : file;
        const tmp = path.join(dir, `.incoming-${randomBytes(6).toString("hex")}`);
        staged.push({ tmp, source: name, size: 0 });
        await placeFile(from, tmp, input.move === true);
        // On disk before builds.json names it: after a power loss, a good record never points
        // to a short file.
        await fsyncFile(tmp);
        staged.at(-1)!.size = (await stat(tmp)).size;
      }
      const file = this.builds(target);
      return await file.locked(async (lock) => {
        const already = (await file.read()).builds.find((b) => b.key === input.key);
        if (already) return already;
        const linked = await this.linkStaged(dir, staged, input.now ?? new Date());
        try {
          const core = {
            key: input.key,
            status: "good" as const,
            createdAt: linked.when.toISOString(),
            commit: input.commit,
            ref: input.ref,
            artifacts: linked.names,
            sizes: linked.sizes,
            ...(input.durationMs === undefined ? {} : { durationMs: input.durationMs }),
          };
          // Extra fields never override the record's own (an extra "status" cannot publish a bad build as good).
          const extra = Object.fromEntries(Object.entries(input.extra ?? {}).filter(([k]) => !(k in core)));
          const record: BuildRecord = { ...core, ...extra };
          // Same lock is held: write the document directly rather than re-entering update().
          await file.updateUnlocked((doc) => void doc.builds.push(record), lock);
          return record;
        } catch (error) {
          // Not recorded (e.g. builds.json is corrupt): leave no artifact that no build claims.
          await Promise.all(linked.names.map((n) => unlink(path.join(dir, n)).catch(() => undefined)));
          throw error;
        }
      });
    } finally {
      await Promise.all(staged.map((s) => unlink(s.tmp).catch(() => undefined)));
    }
  }

  /**
   * Gives each staged file its final name (caller holds the lock). link() fails with EEXIST
   * instead of overwriting, so a name is never reused: on a clash the timestamp moves on by 1 ms.
   */
  private async linkStaged(
    dir: string,
    staged: { tmp: string; source: string; size: number }[],
    start: Date,
  ): Promise<{ names: string[]; sizes: Record<string, number>; when: Date }> {
    let when = start;
    const names: string[] = [];
    const sizes: Record<string, number> = {};
    try {
      for (const s of staged) {
        for (;;) {
          const name = artifactName(s.source, when);
          try {
            await link(s.tmp, path.join(dir, name));
            names.push(name);
            sizes[name] = s.size;
            break;
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
            when = new Date(when.getTime() + 1);
          }
        }
      }
      await fsyncDir(dir);
    } catch (error) {
      await Promise.all(names.map((n) => unlink(path.join(dir, n)).catch(() => undefined)));
      throw error;
    }
    return { names, sizes, when };
  }

  /** Absolute path of an artifact of `target`, refusing names that escape the target folder. */
  async artifactPath(target: string, file: string): Promise<string> {
    return artifactFileIn(this.targetDir(target), file);
  }

  /** Absolute path of `rel` inside the root (for `servicefs://` sources), symlinks checked. */
  async resolve(rel: string): Promise<string> {
    return resolveInside(this.root, rel, "servicefs path");
  }
}

/** Copies `from` to `to`, or renames it when asked and both are on one file system. */
async function placeFile(from: string, to: string, move: boolean): Promise<void> {
  if (move) {
    try {
      await rename(from, to);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EXDEV") throw error;
    }
  }
  await copyFile(from, to);
}

/**
 * Absolute real path of artifact `name` of the target folder `dir` (the API and the runner).
 * Refuses anything but a plain file name from builds.json, and symlinks that leave the folder;
 * a missing file throws ENOENT.
 */
export async function artifactFileIn(dir: string, name: string): Promise<string> {
  if (name !== path.basename(name) || name.startsWith(".") || name.includes("\\")) {
    throw errors.unsafePath("artifact", name, "expected a file name from builds.json");
  }
  return resolveInside(dir, name, "artifact");
}
