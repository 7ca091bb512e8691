import { parse, type Command } from "./context.js";
import { write } from "./output.js";

const usage = `Usage: cicd cancel KEY

Cancels a queued or running build.`;

/** `cicd cancel KEY`. */
export const cancel: Command = {
  usage,
  async run(context, args) {
    const { positionals } = parse(args, {}, ["KEY"], usage);
    const build = await context.client.cancelBuild(positionals[0]!);
    await write(context.stdout, `build ${build.key} (${build.target} #${build.number}) ${build.status}\n`);
    return 0;
  },
};
