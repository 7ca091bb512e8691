/**
 * `cicd <part> …`: picks the part and hands it the rest of the arguments. No logic here. Each
 * part is imported only when it runs, so a process holds the code of its own part only.
 */

const usage = `Usage: cicd <part> [options]

Parts:
  server    the manager: webhooks, REST API, queue (cicd server --config cicd.yml)
  builder   fetch a project, build it, publish good builds (cicd builder --help)
  runner    run the newest good build, fall back on failure (cicd runner --help)
  gc        remove builds past their targets' keep now (cicd gc --help)
`;

export async function main(argv: string[]): Promise<number> {
  const [part, ...rest] = argv;
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
      process.stderr.write(`cicd: unknown part "${part}"\n\n${usage}`);
      return 1;
  }
}
