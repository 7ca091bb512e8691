import path from "node:path";
import { BuildsFile, type BuildRecord, type BuildsDocument } from "../servicefs/index.js";
import { artifactFileIn } from "../servicefs/service-fs.js";
import type { BadInfo, BuildSource, BuildsFeed } from "./build-source.js";
import { BuildsWatcher } from "./builds-watcher.js";

/**
 * Builds of a target folder of the service file system (`cicd runner --dir`): builds.json and
 * the artifacts beside it, read in place. Marking bad goes through BuildsFile (locked, atomic),
 * so a builder's concurrent append survives; changes are seen by fs.watch plus a poll.
 */
export class FsBuildSource implements BuildSource {
  readonly file: BuildsFile;
  /** The target folder, absolute. */
  readonly where: string;

  constructor(dir: string) {
    this.where = path.resolve(dir);
    this.file = new BuildsFile(this.where, path.basename(this.where));
  }

  list(): Promise<BuildsDocument> {
    return this.file.read();
  }

  /** The artifact in place (its real path, refusing names and links that leave the folder). */
  fetchArtifact(_build: BuildRecord, name: string): Promise<string> {
    return artifactFileIn(this.where, name);
  }

  markBad(key: string, info: BadInfo): Promise<boolean> {
    return this.file.markBad(key, info);
  }

  watch(pollMs: number): BuildsFeed {
    return new BuildsWatcher(this.where, pollMs);
  }
}
