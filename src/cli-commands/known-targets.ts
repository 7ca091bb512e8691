import { CicdApiError } from "../client/index.js";
import { CommandError } from "./command-error.js";
import type { CommandContext } from "./context.js";

/**
 * Runs `call`; an unknown target (404 naming a target) becomes a message that lists the targets
 * the server knows, so a typo is fixed at once.
 */
export async function knownTargets<T>(context: CommandContext, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (!(error instanceof CicdApiError) || error.status !== 404 || !/^No target named/.test(error.message)) throw error;
    const names = await context.client.listTargets().then((targets) => targets.map((t) => t.name), () => undefined);
    const known = names === undefined ? "" : names.length ? ` Known targets: ${names.join(", ")}.` : " The server has no targets (see its cicd.yml).";
    throw new CommandError(`${error.message}${known}`);
  }
}
