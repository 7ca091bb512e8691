import type { Command } from "./context.js";
import { parse } from "./context.js";
import { followBuildLog, reportEnd } from "./follow-build-log.js";
import { knownTargets } from "./known-targets.js";
import { write } from "./output.js";

const usage = `Usage: cicd build TARGET [--ref REF] [--follow]

Queues a build of TARGET and prints its key. With --follow, prints the log as it is
written and exits 0 only if the build succeeded (1 otherwise).`;

/** `cicd build TARGET [--ref REF] [--follow]`. */
export const build: Command = {
  usage,
  async run(context, args) {
    const { values, positionals } = parse(args, { ref: { type: "string" }, follow: { type: "boolean", short: "f" } }, ["TARGET"], usage);
    const target = positionals[0]!;
    const queued = await knownTargets(context, () => context.client.triggerBuild(target, values.ref === undefined ? {} : { ref: values.ref }));
    await write(context.stdout, `${queued.key}\n`);
    if (!values.follow) return 0;
    return reportEnd(context, await followBuildLog(context, queued.key));
  },
};
