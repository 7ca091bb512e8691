import { ServiceFs } from "../servicefs/service-fs.js";
import type { ArtifactUpload } from "../shared/protocol.js";
import { uploadArtifacts, type UploadOptions } from "./upload-artifacts.js";

/** What a good build's files became. */
export interface Published {
  /** File names as recorded (servicefs: `<stem>-<timestamp>.<ext>`; upload: the sent names). */
  artifacts: string[];
  sizes: Record<string, number>;
  /** Set when the files went to the manager, which publishes them. */
  uploads?: ArtifactUpload[];
  /** For the log: where the files went. */
  where: string;
}

export interface PublishRequest {
  key: string;
  target: string;
  commit: string | null;
  ref: string | null;
  durationMs: number;
  files: string[];
  meta?: Record<string, string | number | boolean | null>;
}

/**
 * Where a good build's files go. Called once per good build, after every command passed and
 * every artifact pattern matched; throws when the files could not be published.
 */
export type Publisher = (request: PublishRequest, signal?: AbortSignal) => Promise<Published>;

/**
 * The standalone builder's way (`--servicefs DIR`): it is the user's own process, so it writes
 * the service file system itself — files under the target's lock, then the `good` record.
 */
export function servicefsPublisher(root: string): Publisher {
  return async (r) => {
    const record = await new ServiceFs(root).publish(r.target, {
      key: r.key,
      commit: r.commit,
      ref: r.ref,
      durationMs: r.durationMs,
      files: r.files,
      // publish() keeps the record's own fields: meta cannot override them.
      extra: r.meta,
    });
    return { artifacts: record.artifacts, sizes: record.sizes ?? {}, where: r.target };
  };
}

/** A builder started by the manager (`--publish-to manager`): the files go to the manager. */
export function managerPublisher(options: Omit<UploadOptions, "signal">): Publisher {
  return async (r, signal) => {
    const uploads = await uploadArtifacts(r.files, { ...options, signal });
    return {
      artifacts: uploads.map((u) => u.name),
      sizes: Object.fromEntries(uploads.map((u) => [u.name, u.size])),
      uploads,
      where: "the manager",
    };
  };
}
