import type { Build, BuildStatus } from "../client/index.js";
import { usageError } from "./command-error.js";
import { parse, type Command } from "./context.js";
import { knownTargets } from "./known-targets.js";
import { age, json, table, write } from "./output.js";

// The API's statuses, checked here so a typo is a usage error (exit 2) before any request.
const STATUSES = ["queued", "running", "succeeded", "failed", "cancelled", "error"] as const satisfies readonly BuildStatus[];

const usage = `Usage: cicd builds [--target T] [--status S] [--limit N] [--json]

Lists builds, newest first (50 unless --limit). S is one of ${STATUSES.join(", ")}.`;

/** `cicd builds [--target T] [--status S] [--json]`. */
export const builds: Command = {
  usage,
  async run(context, args) {
    const { values } = parse(args, { target: { type: "string" }, status: { type: "string" }, limit: { type: "string" }, json: { type: "boolean" } }, [], usage);
    const status = values.status;
    if (status !== undefined && !(STATUSES as readonly string[]).includes(status)) throw usageError(`--status must be one of ${STATUSES.join(", ")}, not "${status}"`, usage);
    const limit = values.limit === undefined ? undefined : Number(values.limit);
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= 1000)) throw usageError(`--limit must be a whole number from 1 to 1000, not "${values.limit}"`, usage);
    const filter = { target: values.target, status: status as BuildStatus | undefined, limit };
    const list = await knownTargets(context, async () => {
      const found = await context.client.listBuilds(filter);
      // The list of an unknown target is empty, not an error: ask the server which targets it knows.
      if (found.length === 0 && values.target !== undefined && !(await context.client.listTargets()).some((t) => t.name === values.target)) {
        await context.client.getArtifacts(values.target);
      }
      return found;
    });
    if (values.json) {
      await write(context.stdout, json(list));
      return 0;
    }
    if (list.length === 0) {
      await write(context.stderr, "no builds\n");
      return 0;
    }
    await write(context.stdout, table(["#", "KEY", "TARGET", "STATUS", "REF", "AGE"], list.map(row)));
    return 0;
  },
};

/** One build as a table row: its status, with the outcome when that says more ("failed (out_of_memory)"). */
export function row(build: Build): string[] {
  const status = build.outcome && build.outcome !== build.status && build.outcome !== "command_failed" ? `${build.status} (${build.outcome})` : build.status;
  return [String(build.number), build.key, build.target, status, build.ref ?? build.sha?.slice(0, 12) ?? "-", age(build.createdAt)];
}
