/**
 * The texts cicd answers `/build` comments with. Short, and never with a secret: only target
 * names, build keys and links.
 */
export interface QueuedBuild {
  target: string;
  key: string;
  /** The check run page, or the build log URL; none when neither is known. */
  link?: string;
  untrusted?: boolean;
}

/** The commit a `/build` on a pull request builds, and where the head went after the comment. */
export interface BuiltCommit {
  sha: string;
  /** The pull request's head now, when it moved on after the comment (that one is not built). */
  movedTo?: string;
}

/** Why `/build` on a pull request built nothing (see handlers/choose-pull-request-commit.ts). */
export type CommitRefusal =
  /** A fork's pull request, and no head of it is recorded before the comment. */
  | "unrecorded"
  /** The head recorded before the comment changed in the very second of the comment. */
  | "same-moment"
  /** The head changed, and this server does not know whether before or after the comment. */
  | "moved-unrecorded"
  /** The named commit is neither the head nor a recorded head of the pull request. */
  | "not-a-head"
  /** The named abbreviation matches several heads of the pull request. */
  | "ambiguous";

/**
 * The exact comment that builds `sha` for the targets asked for (`names` empty: all of them),
 * as `/build` reads it (handlers/parse-build-command.ts).
 */
export function approveCommand(names: readonly string[], sha: string): string {
  return ["/build", ...names, sha].join(" ");
}

const short = (sha: string) => `\`${sha.slice(0, 12)}\``;

export const buildCommandReplies = {
  queued(builds: QueuedBuild[], author: string, commit?: BuiltCommit, names: readonly string[] = []): string {
    const lines = builds.map((b) => {
      const name = `\`cicd/${b.target}\``;
      return `- ${b.link ? `[${name}](${b.link})` : name}: build \`${b.key}\`${b.untrusted ? " (without secrets)" : ""}`;
    });
    const what = builds.length === 1 ? "this build" : "these builds";
    const head = commit ? `@${author} queued ${what} of commit ${short(commit.sha)}:` : `@${author} queued ${what}:`;
    const moved = commit?.movedTo
      ? [
          "",
          `The pull request's head moved to ${short(commit.movedTo)} after your comment; this builds ${short(commit.sha)}, the commit you saw.`,
          `To build the new head too, comment \`${approveCommand(names, commit.movedTo)}\`.`,
        ]
      : [];
    return [head, "", ...lines, ...moved].join("\n");
  },

  /**
   * `/build` on a pull request that built nothing because the commit to build is not certain.
   * `head` is the pull request's head now; `named` the commit the comment named, if any.
   */
  commitRefused(why: CommitRefusal, o: { author: string; head: string; named?: string; names: readonly string[] }): string {
    const approve = `\`${approveCommand(o.names, o.head)}\``;
    const ifReviewed = `The head is now ${short(o.head)}; if that is the commit you reviewed, comment ${approve} to build exactly it.`;
    switch (why) {
      case "unrecorded":
        return `@${o.author} nothing was built: this pull request comes from a fork, and cicd cannot tell which commit you saw when you commented (it has no record of the pull request's head from before your comment, e.g. it was installed after the last push). ${ifReviewed}`;
      case "same-moment":
        return `@${o.author} nothing was built: this pull request from a fork got a new head in the same second as your comment, so cicd cannot tell which commit you saw. ${ifReviewed}`;
      case "moved-unrecorded":
        return `@${o.author} nothing was built: this pull request from a fork has a head cicd has not seen pushed yet, so it cannot tell whether you saw it. ${ifReviewed}`;
      case "not-a-head":
        return `@${o.author} nothing was built: ${short(o.named ?? "")} is not a head commit of this pull request that cicd knows of (it builds only the pull request's current head or one it had). ${ifReviewed}`;
      case "ambiguous":
        return `@${o.author} nothing was built: ${short(o.named ?? "")} matches more than one head commit of this pull request; give more digits, or the full commit, e.g. ${approve}.`;
    }
  },

  tooManyCommits(shas: string[], author: string): string {
    return `@${author} one \`/build\` comment builds one commit, and this one names ${shas.map(short).join(", ")}. Nothing was built; comment again with one of them.`;
  },

  commitOnIssue(author: string): string {
    return `@${author} a commit can be named only in a pull request's comments (\`/build <target> <sha>\`); on an issue, \`/build\` builds the default branch. Nothing was built.`;
  },

  refused(author: string): string {
    return `Sorry @${author}, only people with write access to this repository can start builds with \`/build\`. A maintainer can start one for you.`;
  },

  unknownTargets(unknown: string[], valid: string[], author: string): string {
    const names = unknown.map((n) => `\`${n}\``).join(", ");
    const list = valid.length ? valid.map((n) => `\`${n}\``).join(", ") : "none";
    return `@${author} there is no target ${names} for this repository. Valid targets: ${list}. Use \`/build\` for all of them or \`/build <target>\` for one (on a pull request, \`/build <target> <sha>\` for one commit).`;
  },

  noPullRequestTargets(valid: string[], author: string): string {
    const list = valid.map((n) => `\`${n}\``).join(", ");
    return `@${author} none of this repository's targets builds pull requests (\`pullRequests: false\`). Name one to build it anyway: \`/build <target>\` with one of ${list}.`;
  },

  noTargets(repository: string, author: string): string {
    return `@${author} no cicd targets are configured for ${repository}, so there is nothing to build.`;
  },
};
