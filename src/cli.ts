/**
 * `cicd <part> …`: picks the part and hands it the rest of the arguments. No logic here.
 */
import { builderMain } from "./builder/main.js";
import { runnerMain } from "./runner/main.js";

const usage = `Usage: cicd <part> [options]

Parts:
  server    the manager: webhooks, REST API, queue (cicd server --config cicd.yml)
  builder   fetch a project, build it, publish good builds (cicd builder --help)
  runner    run the newest good build, fall back on failure (cicd runner --help)
`;

export async function main(argv: string[]): Promise<number> {
  const [part, ...rest] = argv;
  switch (part) {
    case "server": {
      const { serverMain } = await import("./server/main.js");
      return serverMain(rest);
    }
    case "builder":
      return builderMain(rest);
    case "runner":
      return runnerMain(rest);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(usage);
      return part === undefined ? 1 : 0;
    default:
      process.stderr.write(`cicd: unknown part "${part}"\n\n${usage}`);
      return 1;
  }
}
