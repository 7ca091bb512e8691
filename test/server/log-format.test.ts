import { afterAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/shared/logger.js";
import { writeConfigFile } from "../helpers/config-file.js";
import { freePort } from "../helpers/free-port.js";
import { spawnServer, type ServerProcess } from "../helpers/server-process.js";

/**
 * Two log formats (issue 11, point 7): `text`, today's line for people, and `json` (LOG_FORMAT),
 * one object per line for log collectors. Both keep the masking guarantee: the server's own
 * secrets never reach a line, in any form, whatever the format.
 */

function capture(options: Parameters<typeof createLogger>[1] = {}) {
  const lines: string[] = [];
  return { lines, logger: createLogger("cicd", { level: "debug", ...options, write: (line) => lines.push(line) }) };
}

describe("text format", () => {
  it("is `time LEVEL [scope] message key=value`, as before", () => {
    const { lines, logger } = capture();
    logger.child("manager").warn("build queued", { key: "k1", attempts: 2, meta: { a: 1 }, skipped: undefined });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN {2}\[cicd:manager\] build queued key=k1 attempts=2 meta=\{"a":1\}$/);
  });

  it("writes nothing under the level", () => {
    const { lines, logger } = capture({ level: "warn" });
    logger.info("quiet");
    logger.error("loud");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("ERROR [cicd] loud");
  });
});

describe("json format", () => {
  it("is one object per line: time, level, name, msg, then the fields", () => {
    const { lines, logger } = capture({ format: "json" });
    logger.child("api").info("first line\nsecond line", { key: "k1", status: 202, skipped: undefined });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain("\n");
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(Object.keys(entry)).toEqual(["time", "level", "name", "msg", "key", "status"]);
    expect(entry).toMatchObject({ level: "info", name: "cicd:api", msg: "first line\nsecond line", key: "k1", status: 202 });
    expect(new Date(entry.time as string).toISOString()).toBe(entry.time);
  });

  it("keeps its own keys when a field has the same name", () => {
    const { lines, logger } = capture({ format: "json" });
    logger.error("refused", { msg: "from a field", level: "x", size: 10n });
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "error", msg: "refused", _msg: "from a field", _level: "x", size: "10" });
  });
});

describe("masking", () => {
  // A quote and a backslash: JSON escapes them, so the JSON line holds another form of the secret.
  const secret = 'pa"ss\\word-0123456789';
  for (const format of ["text", "json"] as const) {
    it(`masks the server's secrets in every form (${format})`, () => {
      const { lines, logger } = capture({ format, secrets: [secret, undefined] });
      logger.info(`token ${secret}`, { header: `Bearer ${secret}`, encoded: Buffer.from(secret).toString("base64"), url: `https://x/?t=${encodeURIComponent(secret)}` });
      const line = lines[0]!;
      expect(line).toContain("***");
      for (const form of [secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret), "word-0123456789"]) expect(line).not.toContain(form);
      expect(line).not.toContain(Buffer.from(secret).toString("base64").slice(2, -2));
      if (format === "json") expect(() => JSON.parse(line) as unknown).not.toThrow();
    });
  }
});

describe("cicd server with LOG_FORMAT=json", () => {
  let server: ServerProcess | undefined;
  afterAll(() => {
    server?.child.kill("SIGKILL");
  });

  it("writes only JSON lines, none holding its API token", async () => {
    const { file } = writeConfigFile({ host: "127.0.0.1", executor: "local" }, { prefix: "cicd-log-format-" });
    const token = "log-format-api-token-0123456789";
    server = await spawnServer(file, { CICD_API_TOKEN: token, LOG_FORMAT: "json", LOG_LEVEL: "debug", APP_ID: "", PORT: String(await freePort()) });
    const lines = server.output().trim().split("\n");
    const entries = lines.map((line) => JSON.parse(line) as { time: string; level: string; name: string; msg: string });
    expect(entries.map((e) => e.name)).toContain("cicd");
    expect(entries.find((e) => e.msg.startsWith("listening on http://127.0.0.1:"))).toMatchObject({ level: "info", name: "cicd" });
    expect(server.output()).not.toContain(token);
  });

  it("refuses to start with a format it does not know, naming the variable", async () => {
    const { file } = writeConfigFile({ host: "127.0.0.1", executor: "local" }, { prefix: "cicd-log-format-" });
    const error = (await spawnServer(file, { LOG_FORMAT: "xml", PORT: "0" }).catch((e: unknown) => e)) as Error;
    expect(error.message).toContain('cicd: environment: LOG_FORMAT: expected one of text, json, got "xml"');
  });
});
