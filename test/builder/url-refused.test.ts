import { describe, expect, it } from "vitest";
import { runCicd } from "../helpers/cicd-bin.js";

/** Issue 15, point 6: `cicd builder --url /plain/path` is refused at once, saying what to write. */
describe("cicd builder --url", () => {
  it("refuses a plain path with the usage exit code and says to write file://", async () => {
    const run = await runCicd(["builder", "--url", "/plain/path", "--command", "true", "--artifact", "x", "--servicefs", "/tmp/nowhere-sfs", "--target", "t", "--run-on-startup"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("cicd builder: Expected `--url` to be a URL; for a folder or repository on this machine write file:///plain/path");
    expect(run.stdout).toBe("");
  });

  it("refuses any URL it could not fetch from, before serving", async () => {
    const run = await runCicd(["builder", "--url", "ftp://x/y", "--servicefs", "/tmp/nowhere-sfs"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("Expected `--url` to be a source URL");
  });
});
