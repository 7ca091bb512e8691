import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { environmentSecrets, environmentVariables, gitHubEnv, readEnvironment, renderEnvironmentTable } from "../../src/config/environment.js";
import { projectRoot } from "../helpers/images.js";
import { configErrorOf } from "../helpers/config-error.js";

/**
 * Every variable the server reads is read in config/environment.ts (issue 11, point 7): typed
 * values with their defaults, errors that name the variable, the README's table made from the
 * same list, and no other place in the server's code reading process.env for a setting.
 */


describe("readEnvironment", () => {
  it("gives every variable its default when none is set, and counts an empty one as unset", () => {
    const empty = readEnvironment({});
    expect(empty).toMatchObject({ CICD_CONFIG: "cicd.yml", LOG_LEVEL: "info", LOG_FORMAT: "text" });
    expect(empty.PORT).toBeUndefined();
    expect(empty.CICD_API_TOKEN).toBeUndefined();
    expect(empty.APP_ID).toBeUndefined();
    expect(readEnvironment({ PORT: "", CICD_API_TOKEN: "", LOG_LEVEL: "" })).toEqual(empty);
  });

  it("types what it reads", () => {
    const read = readEnvironment({ PORT: "8080", LOG_LEVEL: "DEBUG", LOG_FORMAT: "json", CICD_API_TOKEN: "0123456789abcdef", DOCKER_HOST: "tcp://127.0.0.1:2375" });
    expect(read).toMatchObject({ PORT: 8080, LOG_LEVEL: "debug", LOG_FORMAT: "json", CICD_API_TOKEN: "0123456789abcdef", DOCKER_HOST: "tcp://127.0.0.1:2375" });
  });

  it("names the variable and what was expected", () => {
    expect(configErrorOf(() => readEnvironment({ PORT: "http" })).message).toBe('environment: PORT: expected a port number from 0 to 65535, got "http"');
    expect(configErrorOf(() => readEnvironment({ PORT: "70000" })).message).toContain("environment: PORT: expected a port number");
    expect(configErrorOf(() => readEnvironment({ LOG_LEVEL: "loud" })).message).toBe('environment: LOG_LEVEL: expected one of debug, info, warn, error, got "loud"');
    expect(configErrorOf(() => readEnvironment({ LOG_FORMAT: "xml" })).message).toBe('environment: LOG_FORMAT: expected one of text, json, got "xml"');
  });

  it("never echoes a secret variable's value", () => {
    const message = configErrorOf(() => readEnvironment({ CICD_API_TOKEN: "hunter2-pass" })).message;
    expect(message).toContain("environment: CICD_API_TOKEN: is 12 characters");
    expect(message).not.toContain("hunter2");
  });

  it("hands the GitHub variables on as an env, and lists the secret values set", () => {
    const read = readEnvironment({ APP_ID: "42", WEBHOOK_SECRET: "webhook-secret-0123456789", PRIVATE_KEY: "-----BEGIN KEY-----", PATH: "/bin", CICD_API_TOKEN: "api-token-0123456789" });
    expect(gitHubEnv(read)).toEqual({ APP_ID: "42", WEBHOOK_SECRET: "webhook-secret-0123456789", PRIVATE_KEY: "-----BEGIN KEY-----" });
    expect(environmentSecrets(read).sort()).toEqual(["-----BEGIN KEY-----", "api-token-0123456789", "webhook-secret-0123456789"]);
  });
});

describe("README.md", () => {
  it("lists every variable, as config/environment.ts renders them (copy renderEnvironmentTable() between the markers)", () => {
    const readme = readFileSync(path.join(projectRoot, "README.md"), "utf8");
    const table = /<!-- environment:start -->\n([\s\S]*?)\n<!-- environment:end -->/.exec(readme)?.[1];
    expect(table).toBe(renderEnvironmentTable());
    for (const name of Object.keys(environmentVariables)) expect(table).toContain(`| \`${name}\` |`);
  });
});

/**
 * The server's own code (not the builder and runner, programs of their own) reads process.env
 * only where listed here, each for a reason; a new setting belongs in config/environment.ts.
 */
const allowed: Record<string, string> = {
  "src/config/environment.ts": "the one place",
  "src/server/main.ts": "hands process.env to readEnvironment (after .env filled in what it lacks), and to loadConfig for ${VAR} in cicd.yml",
  "src/manager/gc-main.ts": "`cicd gc`, a command of its own: the same as server/main.ts",
  "src/config/load-config.ts": "default of its env parameter (${VAR} in cicd.yml may name any variable)",
  "src/executor/local/local-executor.ts": "hands PATH, HOME, proxies, … on to workloads, not a setting",
  "src/executor/docker/engine-http.ts": "default of engineAddress's parameters; the server passes DOCKER_HOST read here",
  "src/server/startup-heap.ts": "default of its env parameter; the server passes NODE_OPTIONS read here",
  "src/server/start-server.ts": "default of StartOptions.env, read through readEnvironment",
};

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(projectRoot, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourceFiles(relative);
    return entry.name.endsWith(".ts") ? [relative] : [];
  });
}

describe("process.env in the server's code", () => {
  it("is read only through config/environment.ts (and the listed pass-throughs)", () => {
    // The builder and runner (in containers) and the CLI (a client of the REST API) read their own.
    const programsOfTheirOwn = /^src\/(builder|runner|cli-commands)\/|^src\/workload-cli\.ts$/;
    const readers = sourceFiles("src")
      .filter((file) => !programsOfTheirOwn.test(file))
      .filter((file) => /process\.env/.test(readFileSync(path.join(projectRoot, file), "utf8")));
    expect(readers.filter((file) => !(file in allowed))).toEqual([]);
  });
});
