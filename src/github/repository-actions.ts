import type { GitHubClient } from "./create-app-probot.js";

/**
 * The few repository calls the webhook handlers make besides check runs. Each is one request;
 * callers decide whether to wait for it.
 */
export interface RepoRef {
  owner: string;
  repo: string;
}

export function splitRepository(fullName: string): RepoRef {
  const [owner = "", repo = ""] = fullName.split("/");
  return { owner, repo };
}

/** True when `username` has write, maintain or admin permission on the repository. */
export async function hasWriteAccess(octokit: GitHubClient, ref: RepoRef, username: string): Promise<boolean> {
  try {
    const { data } = await octokit.rest.repos.getCollaboratorPermissionLevel({ ...ref, username });
    return data.permission === "admin" || data.permission === "write";
  } catch (error) {
    // 404: not a collaborator at all.
    if ((error as { status?: number }).status === 404) return false;
    throw error;
  }
}

/** Head commit of a pull request and whether it comes from another repository (a fork). */
export async function pullRequestHead(octokit: GitHubClient, ref: RepoRef, number: number): Promise<{ sha: string; fork: boolean }> {
  const { data } = await octokit.rest.pulls.get({ ...ref, pull_number: number });
  const head = data.head.repo?.full_name?.toLowerCase();
  return { sha: data.head.sha, fork: head !== data.base.repo.full_name.toLowerCase() };
}

export async function reactToComment(octokit: GitHubClient, ref: RepoRef, commentId: number, content: "eyes" | "+1" | "confused"): Promise<void> {
  await octokit.rest.reactions.createForIssueComment({ ...ref, comment_id: commentId, content });
}

export async function commentOnIssue(octokit: GitHubClient, ref: RepoRef, issueNumber: number, body: string): Promise<void> {
  await octokit.rest.issues.createComment({ ...ref, issue_number: issueNumber, body });
}
