import type { Probot } from "probot";
import { buildCommentHandler } from "./build-comment-handler.js";
import { directEvents } from "./direct-events.js";
import type { HandlerDeps } from "./handler-deps.js";
import { rerunHandler } from "./rerun-handler.js";

/**
 * The Probot app: which webhook goes to which handler. Push and pull_request go through
 * direct-events.ts, the very code the server uses to queue them before Probot sees them.
 */
export function registerHandlers(app: Probot, deps: HandlerDeps): void {
  const direct = directEvents(deps);
  app.on("push", (context) => direct.push(context.payload, context.id));
  // Every action: each records the pull request's head; only some build.
  app.on("pull_request", (context) => direct.pull_request(context.payload, context.id));
  app.on("issue_comment.created", buildCommentHandler(deps));
  app.on(["check_run.rerequested", "check_run.requested_action", "check_suite.rerequested"], rerunHandler(deps));
}
