import type { Build, TriggerRequest } from "../manager/types.js";
import type { HandlerDeps } from "./handler-deps.js";

/**
 * Queues one build per request, one after the other (each is durable once `trigger` resolves).
 * Returns the builds that were new; redelivered events return their existing builds as
 * duplicates and are left out. A failure propagates, so GitHub sees the webhook fail.
 */
export async function queueBuilds(deps: Pick<HandlerDeps, "service" | "logger">, requests: TriggerRequest[]): Promise<Build[]> {
  const queued: Build[] = [];
  for (const request of requests) {
    const { build, duplicate } = await deps.service.trigger(request);
    const fields = { build: build.key, target: build.target, trigger: request.trigger, ref: request.ref, sha: request.sha, delivery: request.deliveryId };
    if (duplicate) {
      deps.logger.info("Webhook delivered again; build already queued", fields);
      continue;
    }
    deps.logger.info("Queued build", { ...fields, untrusted: build.untrusted || undefined });
    queued.push(build);
  }
  return queued;
}
