import type { BuiltCommit, CommitRefusal } from "../github/build-command-replies.js";
import type { PullHead } from "../shared/pull-heads.js";

export interface PullRequestFacts {
  /** The pull request's head now (GitHub's API). */
  head: string;
  /** The head lives in another repository: its author may push to it without review. */
  fork: boolean;
  /** GitHub's time of the comment (`comment.created_at`). */
  commentAt: string;
  /** Every head recorded for the pull request (PullHeads.heads). */
  heads: PullHead[];
  /** The commit the comment named (7 to 40 hex digits, lower case), if any. */
  named?: string;
}

/**
 * Which commit `/build` on a pull request builds, or why none. A named commit is built when it is
 * the head or a recorded head of the pull request, and only then (a fork's commits are reachable
 * through the base repository, so any other sha could be anything). Without one, a pull request
 * of the same repository builds its head, as only people with write access push there. A fork's
 * pull request builds the head its commenter saw: the newest head recorded at or before the
 * comment, by GitHub's clock on both. If the head moved since, that seen commit is built, but
 * only when the move is known to come after the comment; when it cannot be told (nothing
 * recorded from before, a push in the very second of the comment, whose times GitHub gives in
 * whole seconds, or a head whose push has not been seen yet), nothing is built.
 */
export function choosePullRequestCommit(f: PullRequestFacts): BuiltCommit | { refused: CommitRefusal } {
  const head = f.head.toLowerCase();
  if (f.named) {
    const known = new Set([head, ...f.heads.map((h) => h.sha.toLowerCase())]);
    const matches = [...known].filter((sha) => sha.startsWith(f.named!));
    if (matches.length > 1) return { refused: "ambiguous" };
    return matches[0] ? { sha: matches[0] } : { refused: "not-a-head" };
  }
  if (!f.fork) return { sha: head };
  const commentAt = Date.parse(f.commentAt);
  let seen: { sha: string; at: number } | undefined;
  for (const h of f.heads) {
    const at = Date.parse(h.at);
    if (at <= commentAt && (!seen || at > seen.at)) seen = { sha: h.sha.toLowerCase(), at };
  }
  if (!seen) return { refused: "unrecorded" };
  if (seen.at === commentAt) return { refused: "same-moment" };
  if (seen.sha === head) return { sha: head };
  const current = f.heads.find((h) => h.sha.toLowerCase() === head);
  if (current && Date.parse(current.at) > commentAt) return { sha: seen.sha, movedTo: head };
  return { refused: "moved-unrecorded" };
}
