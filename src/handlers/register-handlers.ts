import type { Probot } from "probot";
import { buildCommentHandler } from "./build-comment-handler.js";
import type { HandlerDeps } from "./handler-deps.js";
import { pullRequestEvents, pullRequestHandler } from "./pull-request-handler.js";
import { pushHandler } from "./push-handler.js";
import { rerunHandler } from "./rerun-handler.js";

/**
 * The Probot app: which webhook goes to which handler. (The server queues push and pull_request
 * webhooks before Probot sees them, through the same code: direct-events.ts.)
 */
export function registerHandlers(app: Probot, deps: HandlerDeps): void {
  app.on("push", pushHandler(deps));
  app.on(pullRequestEvents, pullRequestHandler(deps));
  app.on("issue_comment.created", buildCommentHandler(deps));
  app.on(["check_run.rerequested", "check_run.requested_action", "check_suite.rerequested"], rerunHandler(deps));
}
