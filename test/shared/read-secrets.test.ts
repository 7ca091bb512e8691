import { mkdir, mkdtemp, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readSecretsFile, readSecretsFileSync } from "../../src/shared/read-secrets.js";

async function secretsFile(text: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "cicd-secrets-"));
  const file = path.join(dir, "hello.env");
  await writeFile(file, text);
  return file;
}

/** Both readers give the same answer (the sync one runs at config load, the async one per build). */
async function both(file: string, label = "hello.env"): Promise<Record<string, string>> {
  const value = await readSecretsFile(file, label);
  expect(readSecretsFileSync(file, label)).toEqual(value);
  return value;
}

async function failure(file: string, label = "hello.env"): Promise<string> {
  const error = (await readSecretsFile(file, label).catch((e: unknown) => e)) as Error;
  expect(error).toBeInstanceOf(Error);
  expect(() => readSecretsFileSync(file, label)).toThrow(error.message);
  return error.message;
}

describe("reading a secrets file", () => {
  it("reads KEY=VALUE lines, comments, export and quotes", async () => {
    const file = await secretsFile("# db\nexport DB_PASSWORD='pa55-w0rd-xyz'\n\nAPI_TOKEN = \"tok-123456789\"\nPLAIN=plain-value\r\n");
    expect(await both(file)).toEqual({ DB_PASSWORD: "pa55-w0rd-xyz", API_TOKEN: "tok-123456789", PLAIN: "plain-value" });
  });

  it("reads multi-line values written as KEY<<DELIMITER blocks, with any delimiter word", async () => {
    const pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n\n  indented = and # kept\n-----END PRIVATE KEY-----";
    const file = await secretsFile(`BEFORE=before-value\nDEPLOY_KEY<<EOF\n${pem}\nEOF\nexport NOTES << 'END_NOTES'\nfirst line\r\nsecond line\nEND_NOTES\nAFTER=after-value\n`);
    expect(await both(file)).toEqual({ BEFORE: "before-value", DEPLOY_KEY: pem, NOTES: "first line\nsecond line", AFTER: "after-value" });
  });

  it("names the line of an unclosed block or a malformed line, never its text", async () => {
    expect(await failure(await secretsFile("A=aaaaaaaa\nKEY<<EOF\nsecret-line-1\nsecret-line-2\n"))).toBe("hello.env: line 2: KEY<<EOF is not closed by a line EOF");
    const message = await failure(await secretsFile("A=aaaaaaaa\nthis is hunter2-secret\n"));
    expect(message).toBe("hello.env: line 2: expected KEY=VALUE, a KEY<<EOF … EOF block, a # comment or a blank line");
    expect(message).not.toContain("hunter2");
  });

  it("refuses values of 1 to 7 characters, naming the KEY only; an empty value is allowed", async () => {
    expect(await failure(await secretsFile("OK=long-enough\nPIN=1234567\n"))).toBe("hello.env: PIN is 7 characters; secrets must be at least 8 characters so they can be masked");
    expect(await failure(await secretsFile("K<<EOF\nab\nEOF\n"))).toBe("hello.env: K is 2 characters; secrets must be at least 8 characters so they can be masked");
    expect(await both(await secretsFile("EMPTY=\nFULL=12345678\n"))).toEqual({ EMPTY: "", FULL: "12345678" });
  });

  it("reads a folder with one file per secret: name = KEY, content = value less one trailing newline", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "cicd-secrets-dir-"));
    await writeFile(path.join(dir, "DB_PASSWORD"), "correct-horse\n");
    await writeFile(path.join(dir, "TLS_KEY"), "line one!\nline two!\n\n");
    // Kubernetes mounts a secret as symlinks into a hidden ..data folder.
    await mkdir(path.join(dir, "..data"));
    await writeFile(path.join(dir, "..data", "API_TOKEN"), "token-from-k8s");
    await symlink("..data/API_TOKEN", path.join(dir, "API_TOKEN"));
    await writeFile(path.join(dir, ".gitkeep"), "");
    expect(await both(dir)).toEqual({ API_TOKEN: "token-from-k8s", DB_PASSWORD: "correct-horse", TLS_KEY: "line one!\nline two!\n" });
  });

  it("names a folder entry that cannot be a secret", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "cicd-secrets-dir-"));
    await writeFile(path.join(dir, "my-key"), "long-enough-value");
    expect(await failure(dir, "secrets")).toBe("secrets: my-key: expected a file named like an environment variable (letters, digits and _, not starting with a digit)");
  });

  it("says a missing file cannot be read without repeating its absolute path", async () => {
    expect(await failure("/nonexistent/hello.env", "cicd.yml: targets[0].secrets: hello.env")).toBe(
      "cicd.yml: targets[0].secrets: hello.env: cannot be read (ENOENT); expected a KEY=VALUE file or a folder with one file per secret",
    );
  });
});
