import type { BuildArtifacts } from "../servicefs/build-artifacts.js";
import type { BuildRecord } from "../servicefs/builds-file.js";
import type { ServiceFs } from "../servicefs/service-fs.js";
import type { BuilderEvent } from "../shared/protocol.js";
import type { BuildPatch } from "../store/build-store.js";
import type { ArtifactInbox } from "./artifact-inbox.js";
import type { Build } from "./types.js";

type SuccessEvent = Extract<BuilderEvent, { type: "success" }>;

export interface PublishDeps {
  servicefs: ServiceFs;
  inbox: ArtifactInbox;
  buildArtifacts: BuildArtifacts;
}

/**
 * Whether a build belongs in its target's `builds.json`: a build of the target's own branches
 * or tags, or a REST or `/build` build of them. Never a pull request's build (from a fork or
 * not, and whatever ref a REST trigger named): runners deploy what builds.json holds, and an
 * unreviewed branch must never be deployed.
 */
export function isReleaseBuild(build: Pick<Build, "pullRequest" | "untrusted" | "ref">): boolean {
  return build.pullRequest === null && !build.untrusted && !(build.ref ?? "").startsWith("refs/pull/");
}

/**
 * A builder said `success`: the manager checks every file it names arrived whole (the builder's
 * commands cannot report a result — they never see its token — and a result that names files
 * the manager did not receive is not a result), then publishes them itself: a release build
 * into the target's folder and `builds.json` (under its lock, once per key), any other build by
 * key only. Returns the `succeeded` patch; throws UNPROCESSABLE when the files do not verify.
 */
export async function publishBuild(deps: PublishDeps, build: Build, event: SuccessEvent, finishedAt: string): Promise<BuildPatch> {
  const files = await deps.inbox.verify(build.key, event.uploads ?? []);
  let artifacts: string[];
  let sizes: Record<string, number>;
  if (isReleaseBuild(build)) {
    const record = await deps.servicefs.publish(build.target, {
      key: build.key,
      commit: event.commit,
      ref: build.ref,
      durationMs: event.durationMs,
      files: files.map((f) => ({ path: f.path, name: f.name })),
      move: true,
      extra: { trigger: build.trigger },
    });
    artifacts = record.artifacts;
    sizes = record.sizes ?? {};
  } else {
    const stored = await deps.buildArtifacts.store(build.key, files);
    artifacts = stored.map((a) => a.name);
    sizes = Object.fromEntries(stored.map((a) => [a.name, a.size]));
  }
  await deps.inbox.discard(build.key);
  return { status: "succeeded", outcome: "succeeded", exitCode: 0, finishedAt, commit: event.commit, artifacts, sizes, commands: event.commands ?? [] };
}

/**
 * The record of a build the manager published before it stopped (after a crash, its `success`
 * may have been handled and the status not yet written): its builds.json entry for a release
 * build, its stored artifacts otherwise.
 */
export async function findPublished(deps: PublishDeps, build: Build): Promise<BuildPatch | undefined> {
  const finishedAt = new Date().toISOString();
  if (isReleaseBuild(build)) {
    const record = (await deps.servicefs.builds(build.target).read().catch(() => undefined))?.builds.find((b) => b.key === build.key);
    return record && publishedPatch(record, finishedAt);
  }
  const stored = await deps.buildArtifacts.list(build.key);
  return stored && { status: "succeeded", outcome: "succeeded", exitCode: 0, finishedAt, artifacts: stored.map((a) => a.name), sizes: Object.fromEntries(stored.map((a) => [a.name, a.size])) };
}

/** The store patch for a build published in builds.json: it succeeded, whatever else was lost. */
export function publishedPatch(record: BuildRecord, finishedAt = new Date().toISOString()): BuildPatch {
  return { status: "succeeded", outcome: "succeeded", exitCode: 0, finishedAt, commit: record.commit, artifacts: record.artifacts, sizes: record.sizes ?? {} };
}
