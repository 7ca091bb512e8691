import { describe, expect, it } from "vitest";
import { newBuildKey } from "../../src/shared/build-key.js";
import { BUILD_KEY } from "../../src/shared/safe-path.js";

describe("build keys", () => {
  it("never begin with - or _ (a key is typed as a command-line argument), and are valid and distinct", () => {
    // 20,000 keys: with a plain base64url key, about 625 would begin with - or _.
    const keys = Array.from({ length: 20_000 }, newBuildKey);
    expect(keys.filter((k) => /^[-_]/.test(k))).toEqual([]);
    expect(keys.every((k) => BUILD_KEY.test(k) && k.length === 12)).toBe(true);
    expect(new Set(keys).size).toBe(keys.length);
  });
});
