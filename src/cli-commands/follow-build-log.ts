import { CicdApiError, type Build } from "../client/index.js";
import type { CommandContext } from "./context.js";
import { write } from "./output.js";

/** Reconnects after a dropped stream (a proxy, a server restart) before giving up. */
const RECONNECTS = 5;

/**
 * Prints the build's log to stdout as it is written and resolves with the build once it has
 * ended. A dropped connection is resumed where it stopped (`Last-Event-ID`), so no line is
 * printed twice or lost.
 */
export async function followBuildLog(context: CommandContext, key: string): Promise<Build> {
  let after = 0;
  let failures = 0;
  for (;;) {
    try {
      for await (const event of context.client.logEvents(key, { after })) {
        if (event.type === "end") return event.build;
        after = event.number;
        failures = 0;
        await write(context.stdout, `${event.text}\n`);
      }
      // The stream ended without `end`: the server went away mid-build.
    } catch (error) {
      if (error instanceof CicdApiError) throw error;
      if (failures >= RECONNECTS) throw error;
    }
    failures++;
    if (failures > RECONNECTS) throw new Error(`the log stream of build ${key} kept ending before the build did`);
    await new Promise((resolve) => setTimeout(resolve, 1000 * failures));
  }
}

/** The line said when a followed build ends, and its exit code: 0 only when it succeeded. */
export async function reportEnd(context: CommandContext, build: Build): Promise<number> {
  const why = build.reason ? `: ${build.reason}` : "";
  await write(context.stderr, `build ${build.key} (${build.target} #${build.number}) ${build.status}${build.status === "succeeded" ? "" : why}\n`);
  return build.status === "succeeded" ? 0 : 1;
}
