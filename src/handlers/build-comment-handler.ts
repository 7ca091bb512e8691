import type { Context } from "probot";
import type { TriggerRequest } from "../manager/types.js";
import { buildCommandReplies } from "../github/build-command-replies.js";
import { logUrl } from "../github/check-run-request.js";
import { commentOnIssue, hasWriteAccess, pullRequestHead, reactToComment, splitRepository } from "../github/repository-actions.js";
import type { HandlerDeps } from "./handler-deps.js";
import { targetsOf } from "./match-targets.js";
import { parseBuildCommand } from "./parse-build-command.js";
import { queueBuilds } from "./queue-builds.js";

type CommentContext = Context<"issue_comment.created">;

function isBot(user: { login: string; type?: string } | null | undefined): boolean {
  return !!user && (user.type === "Bot" || user.login.endsWith("[bot]"));
}

/**
 * issue_comment created with `/build` or `/build <target>`: people with write access build the
 * pull request's head commit (trusted, even from a fork: they asked for it) or, on an issue, the
 * default branch. The comment gets an 👀 at once and a reply listing the queued check runs.
 * Others get a polite refusal; bots are ignored. Only the permission check and, on a pull
 * request, its head commit are waited for; the reaction and the reply run in the background.
 */
export function buildCommentHandler(deps: HandlerDeps) {
  return async (context: CommentContext): Promise<void> => {
    const p = context.payload;
    if (isBot(p.sender) || isBot(p.comment.user)) return;
    const command = parseBuildCommand(p.comment.body);
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
    const available = targetsOf(deps.config, p.repository.full_name);
    if (!available.length) return reply(buildCommandReplies.noTargets(p.repository.full_name, author));
    const unknown = command.names.filter((n) => !available.some((t) => t.name === n));
    if (unknown.length) return reply(buildCommandReplies.unknownTargets(unknown, available.map((t) => t.name), author));

    const onPullRequest = !!p.issue.pull_request;
    // A bare /build on a pull request skips targets that opted out of pull requests; naming one builds it.
    const chosen = command.all ? available.filter((t) => !onPullRequest || t.pullRequests) : available.filter((t) => command.names.includes(t.name));
    if (!chosen.length) return reply(buildCommandReplies.noPullRequestTargets(available.map((t) => t.name), author));

    let where: Pick<TriggerRequest, "ref" | "sha" | "pullRequest" | "untrusted">;
    if (onPullRequest) {
      const head = await pullRequestHead(octokit, repo, p.issue.number);
      where = { ref: `refs/pull/${p.issue.number}/head`, sha: head.sha, pullRequest: p.issue.number, untrusted: false };
    } else {
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
      const body = buildCommandReplies.queued(queued.map((b, i) => ({ target: b.target, key: b.key, link: links[i], untrusted: b.untrusted })), author);
      await commentOnIssue(octokit, repo, p.issue.number, body);
    });
  };
}
