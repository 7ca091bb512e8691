import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load-config.js";
import { renderJsonSchema } from "../../src/config/json-schema.js";
import { isCicdError } from "../../src/shared/errors.js";

function write(yaml: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), "cicd-config-"));
  const file = path.join(dir, "cicd.yml");
  writeFileSync(file, yaml);
  return file;
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(isCicdError(error, "CONFIG_INVALID") || isCicdError(error, "CONFIG_NOT_FOUND")).toBe(true);
    return (error as Error).message;
  }
  throw new Error("expected an error");
}

const contractExample = `
port: 3000
servicefs: ./data/servicefs
database: ./data/cicd.sqlite
executor: docker
concurrency: 2
targets:
  - name: hello
    repository: acme/hello
    url: https://github.com/acme/hello.git
    branches: [main]
    token: \${HELLO_TOKEN}
    secrets: ./secrets/hello.env
    commands: ["./build.sh"]
    artifacts: ["dist/*.jar"]
    image: cicd-builder
    timeout: 30m
    run: { command: "java -jar {file}" }
`;

describe("loadConfig", () => {
  it("reads the contract's example, resolving paths against the file's folder and ${VAR} from the environment", () => {
    const file = write(contractExample);
    const config = loadConfig(file, { HELLO_TOKEN: "s3cret-token" });
    const dir = path.dirname(file);
    expect(config.port).toBe(3000);
    expect(config.servicefs).toBe(path.join(dir, "data/servicefs"));
    expect(config.database).toBe(path.join(dir, "data/cicd.sqlite"));
    const [t] = config.targets;
    expect(t).toMatchObject({ name: "hello", repository: "acme/hello", branches: ["main"], token: "s3cret-token", commands: ["./build.sh"], artifacts: ["dist/*.jar"], image: "cicd-builder", timeoutMs: 30 * 60_000 });
    expect(t!.secrets).toBe(path.join(dir, "secrets/hello.env"));
    expect(t!.run).toMatchObject({ command: "java -jar {file}", autoDeploy: false });
  });

  it("applies defaults to an empty file and lets PORT override port", () => {
    const config = loadConfig(write(""), { PORT: "4100" });
    expect(config).toMatchObject({ port: 4100, executor: "docker", concurrency: 2, targets: [] });
  });

  it("resolves relative files:// URLs against the config folder", () => {
    const file = write("targets:\n  - {name: a, url: 'files://./examples/hello', commands: [make], artifacts: [out/*]}\n");
    expect(loadConfig(file, {}).targets[0]!.url).toBe(`files://${path.join(path.dirname(file), "examples/hello")}`);
  });

  it("names the file, the field and what was expected", () => {
    const file = write("targets:\n  - {name: a, url: 'files:///x', commands: [make], artifacts: [out/*]}\n  - {name: b, url: 'files:///x', commands: [], artifacts: [out/*]}\n");
    expect(errorOf(() => loadConfig(file, {}))).toBe("cicd.yml: targets[1].commands: expected a non-empty list of strings");
  });

  it.each([
    ["port: high", "cicd.yml: port: expected a port number"],
    ["executor: kubernetes", "cicd.yml: executor: expected docker, swarm or local"],
    ["colour: blue", 'cicd.yml: unknown key "colour"'],
    ["targets:\n  - {name: Bad Name, url: 'files:///x', commands: [a], artifacts: [b]}", "cicd.yml: targets[0].name: expected a name matching [a-z0-9][a-z0-9._-]*"],
    ["targets:\n  - {name: a, url: 'ftp://x', commands: [a], artifacts: [b]}", "cicd.yml: targets[0].url: expected a URL"],
    ["targets:\n  - {name: a, url: 'files:///x', commands: [a], artifacts: [b], timeout: soon}", "cicd.yml: targets[0].timeout: expected a duration like 30s, 10m or 1h30m"],
    ["targets:\n  - {name: a, url: 'files:///x', commands: [a], artifacts: [b], flavour: x}", 'cicd.yml: targets[0]: unknown key "flavour"'],
    ["targets:\n  - {name: a, url: 'files:///x', commands: [a]}", "cicd.yml: targets[0].artifacts: expected a value (the field is required)"],
    ["targets:\n  - {name: a, url: 'files:///x', commands: [a], artifacts: [b]}\n  - {name: a, url: 'files:///y', commands: [a], artifacts: [b]}", 'cicd.yml: targets[1].name: expected a unique name; "a" is used twice'],
    ["targets: [", "cicd.yml: expected valid YAML"],
  ])("rejects %j", (yaml, message) => {
    expect(errorOf(() => loadConfig(write(yaml), {}))).toContain(message);
  });

  it("fails on a missing ${VAR} without printing anything secret, naming the field", () => {
    const file = write("targets:\n  - {name: a, url: 'files:///x', commands: [a], artifacts: [b], token: '${NOPE_TOKEN}'}\n");
    expect(errorOf(() => loadConfig(file, {}))).toBe("cicd.yml: targets[0].token: expected environment variable NOPE_TOKEN to be set");
  });

  it("supports ${VAR:-default} and $${ as a literal", () => {
    const file = write("publicUrl: '${BASE:-http://ci.example.test}'\ntargets:\n  - {name: a, url: 'files:///x', commands: ['echo $${HOME}'], artifacts: [b]}\n");
    const config = loadConfig(file, {});
    expect(config.publicUrl).toBe("http://ci.example.test");
    expect(config.targets[0]!.commands).toEqual(["echo ${HOME}"]);
  });

  it("says which file is missing", () => {
    expect(errorOf(() => loadConfig("/nonexistent/cicd.yml", {}))).toContain("/nonexistent/cicd.yml: file not found");
  });
});

describe("schema/cicd.schema.json", () => {
  it("is up to date with the zod schema (run `npm run schema`)", () => {
    const committed = readFileSync(path.resolve(import.meta.dirname, "../../schema/cicd.schema.json"), "utf8");
    expect(committed).toBe(renderJsonSchema());
  });
});
