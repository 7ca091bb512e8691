import nock from "nock";
import { describe, expect, it } from "vitest";
import { API, INSTALLATION_TOKEN, nockInstallationToken, testConfig } from "../fixtures/github-app-fixture.js";
import { handlerHarness, useNock } from "../fixtures/handler-harness.js";
import { examplePayload, prCommentPayload } from "../fixtures/webhook-payloads.js";

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
function nockPull(fork: boolean) {
  return nock(API)
    .get(`${repo}/pulls/2`)
    .reply(200, {
      number: 2,
      head: { sha: headSha, ref: "changes", repo: { full_name: fork ? "forker/Hello-World" : "Codertocat/Hello-World" } },
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
    const payload = prCommentPayload("Looks good.\n/build\nThanks");
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
