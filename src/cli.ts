/**
 * `cicd <part> …`: picks the part (or a command of the REST API's CLI) and hands it the rest of
 * the arguments. No logic here. Each part is imported only when it runs, so a process holds the
 * code of its own part only.
 */

const usage = `Usage: cicd <part> [options]

Parts:
  server    the manager: webhooks, REST API, queue (cicd server --config cicd.yml)
  builder   fetch a project, build it, publish good builds (cicd builder --help)
  runner    run the newest good build, fall back on failure (cicd runner --help)
  gc        remove builds past their targets' keep now (cicd gc --help)

Commands (a client of a running server: CICD_SERVER, CICD_API_TOKEN; cicd build --help):
  build TARGET [--ref REF] [--follow]          queue a build, print its key (and its log)
  builds [--target T] [--status S] [--json]    list builds, newest first
  logs KEY [--follow]                          print a build's log
  cancel KEY                                   cancel a queued or running build
  artifacts TARGET [--json]                    the target's published builds
  download TARGET [--key KEY] [-o DIR]         download a build's files
  runners [--json]                             list runners
`;

/** The commands of the REST API's CLI (src/cli-commands/). */
const COMMANDS = ["build", "builds", "logs", "cancel", "artifacts", "download", "runners"];

export async function main(argv: string[]): Promise<number> {
  const [part, ...rest] = argv;
  if (part !== undefined && COMMANDS.includes(part)) {
    const { commandMain } = await import("./cli-commands/main.js");
    return commandMain(part, rest);
  }
  switch (part) {
    case "server": {
      const { serverMain } = await import("./server/main.js");
      return serverMain(rest);
    }
    case "builder": {
      const { builderMain } = await import("./builder/main.js");
      return builderMain(rest);
    }
    case "runner": {
      const { runnerMain } = await import("./runner/main.js");
      return runnerMain(rest);
    }
    case "gc": {
      const { gcMain } = await import("./manager/gc-main.js");
      return gcMain(rest);
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(usage);
      return part === undefined ? 1 : 0;
    default:
      process.stderr.write(`cicd: unknown part or command "${part}"\n\n${usage}`);
      return 2;
  }
}
