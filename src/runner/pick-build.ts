import type { BuildRecord, BuildsDocument } from "../servicefs/index.js";

export interface Candidate {
  build: BuildRecord;
  /** File name (inside the target folder) of the artifact to run. */
  artifact: string;
}

/** `*` and `?` over one file name (no folders), e.g. `*.jar`, `app-*.tar.gz`. */
function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]");
  return new RegExp(`^${body}$`);
}

/** The artifact a runner starts: the first one, or the first that matches `pattern`. */
function chooseArtifact(build: BuildRecord, pattern?: string): string | undefined {
  if (!pattern) return build.artifacts[0];
  const re = globToRegExp(pattern);
  return build.artifacts.find((a) => re.test(a));
}

/**
 * Good builds a runner may start, newest (last in the file) first, leaving out `exclude`.
 * Builds without a matching artifact come back in `unmatched` (they are not bad, just not
 * runnable with this pattern).
 */
export function runnableBuilds(
  doc: BuildsDocument,
  exclude: ReadonlySet<string>,
  pattern?: string,
): { candidates: Candidate[]; unmatched: BuildRecord[] } {
  const candidates: Candidate[] = [];
  const unmatched: BuildRecord[] = [];
  for (const build of [...doc.builds].reverse()) {
    if (build.status !== "good" || exclude.has(build.key)) continue;
    const artifact = chooseArtifact(build, pattern);
    if (artifact === undefined) unmatched.push(build);
    else candidates.push({ build, artifact });
  }
  return { candidates, unmatched };
}

/**
 * The newest runnable build positioned after `current` in the file (any runnable build when
 * `current` is null or no longer listed), or undefined.
 */
export function newerBuild(
  doc: BuildsDocument,
  current: string | null,
  exclude: ReadonlySet<string>,
  pattern?: string,
): string | undefined {
  const index = current === null ? -1 : doc.builds.findIndex((b) => b.key === current);
  const after: BuildsDocument = { target: doc.target, builds: doc.builds.slice(index + 1) };
  const newest = runnableBuilds(after, exclude, pattern).candidates[0];
  return newest && newest.build.key !== current ? newest.build.key : undefined;
}
