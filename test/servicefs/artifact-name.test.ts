import { describe, expect, it } from "vitest";
import { artifactName, splitName, utcStamp } from "../../src/servicefs/index.js";

const at = new Date("2026-11-26T22:05:01.123Z");

describe("artifactName", () => {
  it("names a file <stem>-<UTC timestamp with milliseconds>.<ext>", () => {
    expect(artifactName("app-1.0.jar", at)).toBe("app-1.0-20261126T220501123Z.jar");
    expect(artifactName("/work/dist/app-1.0.jar", at)).toBe("app-1.0-20261126T220501123Z.jar");
  });

  it("keeps double extensions such as .tar.gz together", () => {
    expect(artifactName("site.tar.gz", at)).toBe("site-20261126T220501123Z.tar.gz");
    expect(splitName("backup.tar.zst")).toEqual({ stem: "backup", ext: ".tar.zst" });
  });

  it("names a file without extension <stem>-<timestamp>", () => {
    expect(artifactName("server", at)).toBe("server-20261126T220501123Z");
  });

  it("gives different names one millisecond apart, and they sort by time as text", () => {
    const names = [2, 0, 1].map((ms) => artifactName("app.jar", new Date(at.getTime() + ms)));
    expect(new Set(names).size).toBe(3);
    expect([...names].sort()).toEqual([0, 1, 2].map((ms) => artifactName("app.jar", new Date(at.getTime() + ms))));
    // Text order follows time order across a day and a year boundary too.
    const a = utcStamp(new Date("2026-12-31T23:59:59.999Z"));
    const b = utcStamp(new Date("2027-01-01T00:00:00.000Z"));
    expect(a < b).toBe(true);
  });
});
