import { describe, expect, it } from "vitest";
import { parseBuilderOptions } from "../../src/builder/options.js";
import { parseSource } from "../../src/builder/source-url.js";

const build = ["--url", "file:///src/repo.git", "--command", "./build.sh", "--artifact", "dist/*.jar", "--servicefs", "/srv/fs", "--target", "hello"];

describe("builder options", () => {
  it("reads the contract flags, repeatable commands and artifacts, and defaults", () => {
    const o = parseBuilderOptions([...build, "--command", "./test.sh", "--artifact", "dist/*.war", "--run-on-startup", "--token", "t0ken"], {});
    expect(o).toMatchObject({
      url: "file:///src/repo.git",
      commands: ["./build.sh", "./test.sh"],
      artifacts: ["dist/*.jar", "dist/*.war"],
      servicefs: "/srv/fs",
      target: "hello",
      runOnStartup: true,
      token: "t0ken",
      port: 0,
      host: "0.0.0.0",
      once: false,
    });
    expect(o.key).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(parseBuilderOptions(build, {}).key).not.toBe(o.key);
  });

  it("falls back to CICD_* env, with lists as lines or JSON, and flags win", () => {
    const env = {
      CICD_URL: "servicefs://sources/app",
      CICD_COMMAND: "make\nmake test",
      CICD_ARTIFACT: '["out/*.jar","out/{a,b}.txt"]',
      CICD_SERVICEFS: "/data/fs",
      CICD_TARGET: "app",
      CICD_RUN_ON_STARTUP: "true",
      CICD_MANAGER_URL: "http://172.17.0.1:3000/internal/builders/events",
      CICD_MANAGER_TOKEN: "mgr-token",
      CICD_BUILDER_ID: "b-1",
      CICD_ONCE: "1",
      CICD_PORT: "8080",
      CICD_KEY: "abcdef123",
    };
    const o = parseBuilderOptions(["--port", "9090"], env);
    expect(o).toMatchObject({
      url: "servicefs://sources/app",
      commands: ["make", "make test"],
      artifacts: ["out/*.jar", "out/{a,b}.txt"],
      servicefs: "/data/fs",
      runOnStartup: true,
      managerToken: "mgr-token",
      builderId: "b-1",
      once: true,
      port: 9090,
      key: "abcdef123",
    });
  });

  it("accepts --run-on-startup=false and --no-run-on-startup as serve mode", () => {
    expect(parseBuilderOptions(["--servicefs", "/x", "--run-on-startup=false"], {}).runOnStartup).toBe(false);
    expect(parseBuilderOptions(["--servicefs", "/x", "--no-run-on-startup"], { CICD_RUN_ON_STARTUP: "true" }).runOnStartup).toBe(false);
    expect(parseBuilderOptions([...build, "--run-on-startup=true"], {}).runOnStartup).toBe(true);
  });

  it("rejects bad flags with messages that name the flag", () => {
    const bad: [string[], RegExp][] = [
      [["--bogus"], /Unknown option '--bogus'/],
      [["--servicefs", "/x", "stray"], /flags only/],
      [["--url", "x"], /--servicefs/],
      [["--servicefs", "/x", "--port", "70000"], /--port.*0 to 65535/],
      [["--servicefs", "/x", "--sha", "not-a-sha"], /--sha/],
      [["--servicefs", "/x", "--key", "a/b"], /--key/],
      [["--servicefs", "/x", "--target", "Bad Name"], /target/],
      [["--servicefs", "/x", "--manager-url", "ftp://m"], /--manager-url/],
      [["--servicefs", "/x", "--run-on-startup", "--url", "file:///r"], /--command/],
      [["--servicefs", "/x", "--run-on-startup=maybe"], /true or false/],
      [["--servicefs", "/x", "--manager-url", "http://m/e", "--max-builds", "0"], /--max-builds.*1 to 1000/],
      [["--servicefs", "/x", "--manager-url", "http://m/e", "--max-builds", "ten"], /--max-builds.*1 to 1000/],
      [["--servicefs", "/x", "--max-builds", "3"], /--max-builds.*--manager-url/],
      [["--servicefs", "/x", "--manager-url", "http://m/e", "--once", "--max-builds", "3"], /--max-builds.*without --once/],
      [["--servicefs", "/x", "--manager-url", "http://m/e", "--run-on-startup", "--url", "file:///r", "--command", "make", "--artifact", "a", "--target", "t", "--max-builds", "3"], /--max-builds.*--run-on-startup/],
    ];
    for (const [argv, message] of bad) {
      expect(() => parseBuilderOptions(argv, {}), argv.join(" ")).toThrow(message);
    }
  });

  it("serves a number of builds for the manager with --max-builds (or CICD_MAX_BUILDS)", () => {
    const manager = ["--servicefs", "/x", "--manager-url", "http://10.0.0.1:3000/internal/builders/events"];
    expect(parseBuilderOptions([...manager, "--max-builds", "10"], {}).maxBuilds).toBe(10);
    expect(parseBuilderOptions(manager, { CICD_MAX_BUILDS: "4" }).maxBuilds).toBe(4);
    expect(parseBuilderOptions(manager, {}).maxBuilds).toBeUndefined();
  });

  it("help needs no other flag", () => {
    expect(parseBuilderOptions(["--help"], {}).help).toBe(true);
  });
});

describe("source URLs", () => {
  it("tells git, local and servicefs sources apart", () => {
    expect(parseSource("https://github.com/acme/hello.git")).toEqual({ kind: "git", url: "https://github.com/acme/hello.git" });
    expect(parseSource("git@github.com:acme/hello.git")).toEqual({ kind: "git", url: "git@github.com:acme/hello.git" });
    expect(parseSource("ssh://git@host:2222/acme/hello.git").kind).toBe("git");
    expect(parseSource("file:///srv/repo.git")).toEqual({ kind: "local", path: "/srv/repo.git" });
    expect(parseSource("files:///srv/my%20project")).toEqual({ kind: "local", path: "/srv/my project" });
    expect(parseSource("servicefs://sources/a.tar.gz")).toEqual({ kind: "servicefs", rel: "sources/a.tar.gz" });
    expect(parseSource("servicefs:///sources/a.zip")).toEqual({ kind: "servicefs", rel: "sources/a.zip" });
  });

  it("moves credentials out of https URLs and never echoes them in errors", () => {
    expect(parseSource("https://x-access-token:ghs_abc@github.com/acme/hello.git")).toEqual({
      kind: "git",
      url: "https://github.com/acme/hello.git",
      credentials: "x-access-token:ghs_abc",
    });
    expect(() => parseSource("ftp://user:pa55word@host/x")).toThrow(/^(?!.*pa55word).*Expected `url`/);
    expect(() => parseSource("ssh://git:pa55word@host/x")).toThrow(/^(?!.*pa55word).*use a key/);
  });
});
