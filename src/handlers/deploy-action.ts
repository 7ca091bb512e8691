import type { Context } from "probot";
import { addDeployNote } from "../github/deployment-notes.js";
import { hasWriteAccess, splitRepository } from "../github/repository-actions.js";
import { errorMessage, isCicdError } from "../shared/errors.js";
import type { HandlerDeps } from "./handler-deps.js";
import { checkRunTarget } from "./match-targets.js";

/**
 * The "Deploy" button of a successful check run (requested_action `deploy`): a user with write
 * permission moves the target's runner to the check run's build (external_id = build key).
 * Only the permission check is waited for; the deploy itself (stopping the old runner may take
 * its grace period) runs in the background. Every outcome, refusals included, is noted in the
 * check run's summary, so the person who clicked sees what happened.
 */
export async function deployAction(deps: HandlerDeps, context: Context<"check_run.requested_action">): Promise<void> {
  const p = context.payload;
  const repository = p.repository.full_name;
  const target = checkRunTarget(deps.config, repository, p.check_run.name);
  if (!target) return;
  const build = p.check_run.external_id ? deps.service.get(p.check_run.external_id) : undefined;
  const user = p.sender.login;
  const fields = { repository, target, build: build?.key ?? p.check_run.external_id, user };
  if (!build || build.target !== target) {
    deps.logger.warn("Deploy requested for a check run whose build this server does not know; ignored", fields);
    return;
  }
  const note = (ok: boolean, message: string) => {
    addDeployNote(deps.service, build.key, { at: new Date().toISOString(), by: user, ok, message });
    deps.refreshCheckRun?.(build.key);
  };
  if (!(await hasWriteAccess(context.octokit, splitRepository(repository), user))) {
    deps.logger.info("Deploy from a user without write access; refused", fields);
    return note(false, `refused: deploying needs write permission on ${repository}.`);
  }
  if (build.untrusted) return note(false, "refused: this build comes from a fork and ran without trust; it is never deployed from here.");
  if (build.status !== "succeeded") return note(false, `refused: only a successful build can be deployed (this one is ${build.status}).`);
  const deployments = deps.deployments;
  if (!deployments) return note(false, "this cicd server has no runners to deploy to.");
  deps.logger.info("Deploy requested from a check run", fields);
  deps.tasks.run("deploy a build", async () => {
    try {
      const runner = await deployments.deploy(target, build.key);
      const replaced = runner.replaced.length ? ` (replacing runner ${runner.replaced.join(", ")})` : "";
      deps.logger.info("Deployed from a check run", { ...fields, runner: runner.id, replaced: runner.replaced });
      note(true, `runner ${runner.id} now runs this build${replaced}.`);
    } catch (error) {
      deps.logger.warn("Deploy from a check run failed", { ...fields, error: errorMessage(error) });
      // The check run is public to everyone who sees the repository: user errors (no such good
      // build, no run command) are told as they are; server trouble only by reference to the log.
      const told = isCicdError(error) && error.status < 500 ? errorMessage(error) : "the server could not start the runner; its log says why.";
      note(false, `failed: ${told}`);
    }
  });
}
