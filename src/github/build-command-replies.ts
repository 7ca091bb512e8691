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

export const buildCommandReplies = {
  queued(builds: QueuedBuild[], author: string): string {
    const lines = builds.map((b) => {
      const name = `\`cicd/${b.target}\``;
      return `- ${b.link ? `[${name}](${b.link})` : name}: build \`${b.key}\`${b.untrusted ? " (without secrets)" : ""}`;
    });
    return [`@${author} queued ${builds.length === 1 ? "this build" : "these builds"}:`, "", ...lines].join("\n");
  },

  refused(author: string): string {
    return `Sorry @${author}, only people with write access to this repository can start builds with \`/build\`. A maintainer can start one for you.`;
  },

  unknownTargets(unknown: string[], valid: string[], author: string): string {
    const names = unknown.map((n) => `\`${n}\``).join(", ");
    const list = valid.length ? valid.map((n) => `\`${n}\``).join(", ") : "none";
    return `@${author} there is no target ${names} for this repository. Valid targets: ${list}. Use \`/build\` for all of them or \`/build <target>\` for one.`;
  },

  noPullRequestTargets(valid: string[], author: string): string {
    const list = valid.map((n) => `\`${n}\``).join(", ");
    return `@${author} none of this repository's targets builds pull requests (\`pullRequests: false\`). Name one to build it anyway: \`/build <target>\` with one of ${list}.`;
  },

  noTargets(repository: string, author: string): string {
    return `@${author} no cicd targets are configured for ${repository}, so there is nothing to build.`;
  },
};
