import type { Context } from "probot";
import type { TriggerRequest } from "../manager/types.js";
import { buildCommandReplies, type BuiltCommit } from "../github/build-command-replies.js";
import { logUrl } from "../github/check-run-request.js";
import { commentOnIssue, hasWriteAccess, pullRequestHead, reactToComment, splitRepository } from "../github/repository-actions.js";
import { choosePullRequestCommit } from "./choose-pull-request-commit.js";
import type { HandlerDeps } from "./handler-deps.js";
import { targetsOf } from "./match-targets.js";
import { parseBuildCommand } from "./parse-build-command.js";
import { queueBuilds } from "./queue-builds.js";

type CommentContext = Context<"issue_comment.created">;

function isBot(user: { login: string; type?: string } | null | undefined): boolean {
  return !!user && (user.type === "Bot" || user.login.endsWith("[bot]"));
}

/**
 * issue_comment created with `/build`, `/build <target>`, `/build <sha>` or `/build <target> <sha>`:
 * people with write access build a commit of the pull request (trusted, even from a fork: they
 * asked for it) or, on an issue, the default branch. Which commit: choose-pull-request-commit.ts
 * (on a fork's pull request, the head the commenter saw, or a named head; else nothing, and the
 * reply says how to approve one). The comment gets an 👀 at once and a reply listing the queued
 * check runs. Others get a polite refusal; bots are ignored. Only the permission check and, on a
 * pull request, its head commit are waited for; the reaction and the reply run in the background.
 */
export function buildCommentHandler(deps: HandlerDeps) {
  return async (context: CommentContext): Promise<void> => {
    const p = context.payload;
    if (isBot(p.sender) || isBot(p.comment.user)) return;
    const available = targetsOf(deps.config, p.repository.full_name);
    const command = parseBuildCommand(p.comment.body, available.map((t) => t.name));
    if (!command) return;
    const octokit = context.octokit;
    const repo = splitRepository(p.repository.full_name);
    const author = p.comment.user?.login ?? p.sender.login;
    const reply = (body: string) => deps.tasks.run("reply to a /build comment", () => commentOnIssue(octokit, repo, p.issue.number, body));
    deps.tasks.run("react to a /build comment", () => reactToComment(octokit, repo, p.comment.id, "eyes"));

    if (!(await hasWriteAccess(octokit, repo, author))) {
      deps.logger.info("/build from a user without write access; refused", { repository: p.repository.full_name, user: author });
      return reply(buildCommandReplies.refused(author));
    }
    if (!available.length) return reply(buildCommandReplies.noTargets(p.repository.full_name, author));
    const unknown = command.names.filter((n) => !available.some((t) => t.name === n));
    if (unknown.length) return reply(buildCommandReplies.unknownTargets(unknown, available.map((t) => t.name), author));

    const onPullRequest = !!p.issue.pull_request;
    // A bare /build on a pull request skips targets that opted out of pull requests; naming one builds it.
    const chosen = command.all ? available.filter((t) => !onPullRequest || t.pullRequests) : available.filter((t) => command.names.includes(t.name));
    if (!chosen.length) return reply(buildCommandReplies.noPullRequestTargets(available.map((t) => t.name), author));

    if (command.shas.length > 1) return reply(buildCommandReplies.tooManyCommits(command.shas, author));
    const named = command.shas[0];

    let where: Pick<TriggerRequest, "ref" | "sha" | "pullRequest" | "untrusted">;
    let commit: BuiltCommit | undefined;
    if (onPullRequest) {
      const number = p.issue.number;
      const head = await pullRequestHead(octokit, repo, number);
      const heads = deps.pullHeads?.heads(p.repository.full_name, number) ?? [];
      const decision = choosePullRequestCommit({ head: head.sha, fork: head.fork, commentAt: p.comment.created_at, heads, named });
      if ("refused" in decision) {
        deps.logger.info("/build on a pull request refused: the commit to build is not certain", {
          repository: p.repository.full_name,
          pullRequest: number,
          why: decision.refused,
          head: head.sha,
          named,
        });
        return reply(buildCommandReplies.commitRefused(decision.refused, { author, head: head.sha, named, names: command.names }));
      }
      commit = decision;
      where = { ref: `refs/pull/${number}/head`, sha: commit.sha, pullRequest: number, untrusted: false };
    } else {
      // A sha on an issue could name any commit the repository serves, a fork's included.
      if (named) return reply(buildCommandReplies.commitOnIssue(author));
      where = { ref: `refs/heads/${p.repository.default_branch}` };
    }
    const queued = await queueBuilds(
      deps,
      chosen.map((t) => ({
        target: t.name,
        ...where,
        trigger: "comment" as const,
        deliveryId: context.id,
        repository: p.repository.full_name,
        installationId: p.installation?.id,
      })),
    );
    if (!queued.length) return;
    deps.tasks.run("reply to a /build comment", async () => {
      const links = await Promise.all(
        queued.map(async (b) => (await deps.checkRunUrl?.(b.key)) ?? (deps.config.publicUrl ? logUrl(deps.config.publicUrl, b.key) : undefined)),
      );
      const builds = queued.map((b, i) => ({ target: b.target, key: b.key, link: links[i], untrusted: b.untrusted }));
      const body = buildCommandReplies.queued(builds, author, commit, command.names);
      await commentOnIssue(octokit, repo, p.issue.number, body);
    });
  };
}
