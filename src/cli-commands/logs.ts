import { parse, type Command } from "./context.js";
import { followBuildLog, reportEnd } from "./follow-build-log.js";
import { write } from "./output.js";

const usage = `Usage: cicd logs KEY [--follow]

Prints a build's log. With --follow, keeps printing as it is written until the build
ends, and exits 0 only if it succeeded (1 otherwise).`;

/** `cicd logs KEY [--follow]`. */
export const logs: Command = {
  usage,
  async run(context, args) {
    const { values, positionals } = parse(args, { follow: { type: "boolean", short: "f" } }, ["KEY"], usage);
    const key = positionals[0]!;
    if (values.follow) return reportEnd(context, await followBuildLog(context, key));
    await write(context.stdout, await context.client.getLog(key));
    return 0;
  },
};
