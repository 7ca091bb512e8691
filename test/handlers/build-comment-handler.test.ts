import nock from "nock";
import { describe, expect, it } from "vitest";
import { API, INSTALLATION_TOKEN, nockInstallationToken, testConfig } from "../fixtures/github-app-fixture.js";
import { handlerHarness, useNock } from "../fixtures/handler-harness.js";
import { examplePayload, prCommentPayload, pullRequestPayload } from "../fixtures/webhook-payloads.js";

useNock();

const repo = "/repos/Codertocat/Hello-World";
const headSha = "1234567890abcdef1234567890abcdef12345678";

function nockPermission(permission: string) {
  return nock(API).get(`${repo}/collaborators/Codertocat/permission`).reply(200, { permission, user: { login: "Codertocat" } });
}
function nockReaction(commentId: number, seen: unknown[]) {
  return nock(API)
    .post(`${repo}/issues/comments/${commentId}/reactions`, (body) => (seen.push(body), true))
    .reply(201, { id: 1, content: "eyes" });
}
function nockPull(fork: boolean, sha = headSha) {
  return nock(API)
    .get(`${repo}/pulls/2`)
    .reply(200, {
      number: 2,
      head: { sha, ref: "changes", repo: { full_name: fork ? "forker/Hello-World" : "Codertocat/Hello-World" } },
      base: { sha: "f".repeat(40), ref: "master", repo: { full_name: "Codertocat/Hello-World" } },
    });
}
function nockReply(issue: number, bodies: string[]) {
  return nock(API)
    .post(`${repo}/issues/${issue}/comments`, (body) => (bodies.push(body.body), true))
    .reply(201, { id: 99 });
}

describe("/build comments", () => {
  it("builds a pull request's head for a writer: 👀 at once, then a reply listing the check runs", async () => {
    const h = await handlerHarness(testConfig({ publicUrl: "https://ci.example.com/" }));
    // The fork's pull request had this head a minute before the comment: the commenter saw it.
    await h.receive("pull_request", pullRequestPayload("edited", { sha: headSha, at: "2026-03-01T11:59:00Z" }));
    const payload = prCommentPayload("Looks good.\n/build\nThanks", "2026-03-01T12:00:00Z");
    const reactions: unknown[] = [];
    const replies: string[] = [];
    nockInstallationToken();
    nockReaction(payload.comment.id, reactions);
    nockPermission("write");
    nockPull(true);
    nockReply(2, replies);
    await h.receive("issue_comment", payload, "comment-delivery");

    // A fork pull request, but a collaborator asked: trusted. hello-main-only opted out of PRs.
    expect(h.service.requests).toEqual(
      ["hello", "hello-release"].map((target) => ({
        target,
        ref: "refs/pull/2/head",
        sha: headSha,
        pullRequest: 2,
        untrusted: false,
        trigger: "comment",
        deliveryId: "comment-delivery",
        repository: "Codertocat/Hello-World",
        installationId: 1,
      })),
    );
    expect(reactions).toEqual([{ content: "eyes" }]);
    expect(replies).toHaveLength(1);
    const [first, second] = h.service.all();
    expect(replies[0]).toContain(`[\`cicd/hello\`](https://ci.example.com/api/v1/builds/${first!.key}/log)`);
    expect(replies[0]).toContain(`[\`cicd/hello-release\`](https://ci.example.com/api/v1/builds/${second!.key}/log)`);
    expect(replies[0]).toMatch(/^@Codertocat queued these builds of commit `1234567890ab`:/);
    expect(h.logger.lines.join("\n")).not.toContain(INSTALLATION_TOKEN);
  });

  it("refuses politely when the author cannot write, and queues nothing", async () => {
    const h = await handlerHarness();
    const payload = prCommentPayload("/build");
    const replies: string[] = [];
    nockInstallationToken();
    nockReaction(payload.comment.id, []);
    nockPermission("read");
    nockReply(2, replies);
    await h.receive("issue_comment", payload);
    expect(h.service.requests).toEqual([]);
    expect(replies).toEqual([expect.stringMatching(/^Sorry @Codertocat, only people with write access/)]);
  });

  it("answers an unknown target with the valid ones and queues nothing", async () => {
    const h = await handlerHarness();
    const payload = prCommentPayload("/build nope");
    const replies: string[] = [];
    nockInstallationToken();
    nockReaction(payload.comment.id, []);
    nockPermission("admin");
    nockReply(2, replies);
    await h.receive("issue_comment", payload);
    expect(h.service.requests).toEqual([]);
    expect(replies[0]).toContain("no target `nope`");
    expect(replies[0]).toContain("Valid targets: `hello`, `hello-release`, `hello-main-only`.");
  });

  it("builds a named target even when it skips pull requests by default", async () => {
    const h = await handlerHarness();
    const payload = prCommentPayload("/build hello-main-only");
    nockInstallationToken();
    nockReaction(payload.comment.id, []);
    nockPermission("write");
    nockPull(false);
    nockReply(2, []);
    await h.receive("issue_comment", payload);
    expect(h.service.requests.map((r) => [r.target, r.sha])).toEqual([["hello-main-only", headSha]]);
  });

  it("builds the default branch for /build on an issue (no commit yet)", async () => {
    const h = await handlerHarness();
    const payload = examplePayload("issue_comment", "created");
    payload.comment.body = "/build hello";
    const replies: string[] = [];
    nockInstallationToken();
    nockReaction(payload.comment.id, []);
    nockPermission("write");
    nockReply(payload.issue.number, replies);
    await h.receive("issue_comment", payload);
    const [build] = h.service.all();
    expect(h.service.requests).toEqual([
      expect.objectContaining({ target: "hello", ref: "refs/heads/master", trigger: "comment", installationId: 1 }),
    ]);
    expect(h.service.requests[0]).not.toHaveProperty("sha");
    // No publicUrl and no check run yet: the reply names the build without a link.
    expect(replies).toEqual([`@Codertocat queued this build:\n\n- \`cicd/hello\`: build \`${build!.key}\``]);
  });

  it("ignores bots, edited comments and comments without a command (no GitHub call at all)", async () => {
    const h = await handlerHarness();
    const bot = prCommentPayload("/build");
    bot.sender = { ...bot.sender, login: "renovate[bot]", type: "Bot" };
    bot.comment.user = { ...bot.comment.user, login: "renovate[bot]", type: "Bot" };
    await h.receive("issue_comment", bot);
    const edited = examplePayload("issue_comment", "edited");
    edited.comment.body = "/build";
    await h.receive("issue_comment", edited);
    await h.receive("issue_comment", prCommentPayload("please /build this"));
    await h.receive("issue_comment", prCommentPayload("```\n/build\n```"));
    expect(h.service.requests).toEqual([]);
  });

  it("does not reply twice when GitHub redelivers the comment", async () => {
    const h = await handlerHarness();
    const payload = prCommentPayload("/build hello");
    const replies: string[] = [];
    nockInstallationToken();
    nockReaction(payload.comment.id, []).persist();
    nockPermission("write").persist();
    nockPull(false).persist();
    nockReply(2, replies);
    await h.receive("issue_comment", payload, "same");
    await h.receive("issue_comment", payload, "same");
    expect(h.service.all()).toHaveLength(1);
    expect(replies).toHaveLength(1);
  });
});

describe("/build on a fork's pull request builds the commit the commenter saw", () => {
  const seen = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  const pushedLater = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
  const commentAt = "2026-03-01T12:00:00Z";
  const commentBuilds = (h: Awaited<ReturnType<typeof handlerHarness>>) => h.service.requests.filter((r) => r.trigger === "comment");

  const withToken = new WeakSet<object>();

  /**
   * A writer comments `body` on pull request #2 (a fork's unless `fork` is false), whose head is
   * `head` by the time it is handled (`head` undefined: the comment is refused before asking).
   */
  async function comment(h: Awaited<ReturnType<typeof handlerHarness>>, body: string, head: string | undefined, fork = true) {
    const payload = prCommentPayload(body, commentAt);
    const replies: string[] = [];
    // Probot keeps the installation token for the harness's later comments.
    if (!withToken.has(h)) nockInstallationToken();
    withToken.add(h);
    nockReaction(payload.comment.id, []);
    nockPermission("write");
    if (head) nockPull(fork, head);
    nockReply(2, replies);
    await h.receive("issue_comment", payload);
    return replies;
  }

  it("builds the head recorded before the comment, not one the fork pushed after it, and says so", async () => {
    const h = await handlerHarness();
    await h.receive("pull_request", pullRequestPayload("opened", { sha: seen, at: "2026-03-01T11:00:00Z" }));
    // The fork pushes 30 s after the maintainer's comment, before the comment is handled.
    await h.receive("pull_request", pullRequestPayload("synchronize", { sha: pushedLater, at: "2026-03-01T12:00:30Z" }));
    const replies = await comment(h, "/build hello", pushedLater);
    expect(commentBuilds(h)).toEqual([expect.objectContaining({ target: "hello", sha: seen, ref: "refs/pull/2/head", untrusted: false, pullRequest: 2 })]);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toContain("queued this build of commit `aaaaaaaaaaaa`");
    expect(replies[0]).toContain("moved to `bbbbbbbbbbbb` after your comment");
    expect(replies[0]).toContain(`\`/build hello ${pushedLater}\``);
  });

  it("refuses when nothing is recorded from before the comment, and replies with the command that approves the head", async () => {
    const h = await handlerHarness();
    const replies = await comment(h, "/build", pushedLater);
    expect(commentBuilds(h)).toEqual([]);
    expect(replies).toEqual([expect.stringContaining("nothing was built")]);
    expect(replies[0]).toContain(`comment \`/build ${pushedLater}\` to build exactly it`);
    // The head pushed only after the comment is no witness of what the commenter saw either.
    await h.receive("pull_request", pullRequestPayload("synchronize", { sha: pushedLater, at: "2026-03-01T12:00:30Z" }));
    expect(await comment(h, "/build hello-release", pushedLater)).toEqual([expect.stringContaining(`\`/build hello-release ${pushedLater}\``)]);
    expect(commentBuilds(h)).toEqual([]);
  });

  it("refuses when the head changed in the very second of the comment", async () => {
    const h = await handlerHarness();
    await h.receive("pull_request", pullRequestPayload("opened", { sha: seen, at: "2026-03-01T11:00:00Z" }));
    await h.receive("pull_request", pullRequestPayload("synchronize", { sha: pushedLater, at: commentAt }));
    const replies = await comment(h, "/build hello", pushedLater);
    expect(commentBuilds(h)).toEqual([]);
    expect(replies[0]).toContain("in the same second as your comment");
  });

  it("refuses when the head moved and its push has not been seen (it may have come before the comment)", async () => {
    const h = await handlerHarness();
    await h.receive("pull_request", pullRequestPayload("opened", { sha: seen, at: "2026-03-01T11:00:00Z" }));
    const replies = await comment(h, "/build hello", pushedLater);
    expect(commentBuilds(h)).toEqual([]);
    expect(replies[0]).toContain("has a head cicd has not seen pushed yet");
    expect(replies[0]).toContain(`\`/build hello ${pushedLater}\``);
  });

  it("builds exactly a named commit that is a head of the pull request (an abbreviation too), trusted", async () => {
    const h = await handlerHarness();
    await h.receive("pull_request", pullRequestPayload("opened", { sha: seen, at: "2026-03-01T11:00:00Z" }));
    await h.receive("pull_request", pullRequestPayload("synchronize", { sha: pushedLater, at: "2026-03-01T12:00:30Z" }));
    // An older head, named by 7 digits: built in full, for every target that builds pull requests.
    await comment(h, "/build AAAAAAA", pushedLater);
    expect(commentBuilds(h).map((r) => [r.target, r.sha, r.untrusted])).toEqual([
      ["hello", seen, false],
      ["hello-release", seen, false],
    ]);
    // The current head, even when nothing recorded it.
    const fresh = await handlerHarness();
    await comment(fresh, `/build hello-main-only ${headSha}`, headSha);
    expect(commentBuilds(fresh).map((r) => [r.target, r.sha])).toEqual([["hello-main-only", headSha]]);
  });

  it("refuses a named commit that is not a head of the pull request, on a fork or not", async () => {
    for (const fork of [true, false]) {
      const h = await handlerHarness();
      await h.receive("pull_request", pullRequestPayload("opened", { sha: seen, at: "2026-03-01T11:00:00Z", fork }));
      const replies = await comment(h, "/build hello cccccccccccc", seen, fork);
      expect(commentBuilds(h)).toEqual([]);
      expect(replies[0]).toContain("`cccccccccccc` is not a head commit of this pull request");
      expect(replies[0]).toContain(`\`/build hello ${seen}\``);
    }
  });

  it("keeps building a same-repository pull request's head from the API, recorded or not", async () => {
    const h = await handlerHarness();
    await h.receive("pull_request", pullRequestPayload("opened", { sha: seen, at: "2026-03-01T11:00:00Z", fork: false }));
    await comment(h, "/build hello", headSha, false);
    expect(commentBuilds(h).map((r) => [r.target, r.sha])).toEqual([["hello", headSha]]);
  });

  it("refuses two commits in one comment, and a commit on an issue", async () => {
    const h = await handlerHarness();
    expect(await comment(h, "/build hello aaaaaaa\n/build bbbbbbb", undefined)).toEqual([expect.stringContaining("builds one commit")]);
    const payload = examplePayload("issue_comment", "created");
    payload.comment.body = `/build hello ${seen}`;
    const replies: string[] = [];
    nockReaction(payload.comment.id, []);
    nockPermission("write");
    nockReply(payload.issue.number, replies);
    await h.receive("issue_comment", payload);
    expect(replies).toEqual([expect.stringContaining("a commit can be named only in a pull request's comments")]);
    expect(commentBuilds(h)).toEqual([]);
  });
});
