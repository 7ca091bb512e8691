import { describe, expect, it } from "vitest";
import { sameSecret } from "../../src/shared/same-secret.js";

describe("sameSecret", () => {
  it("is true only for equal secrets, whatever their lengths", () => {
    expect(sameSecret("manager-token-0123456789", "manager-token-0123456789")).toBe(true);
    expect(sameSecret("manager-token-0123456789", "manager-token-0123456780")).toBe(false);
    // Different lengths compare (as digests) instead of throwing like timingSafeEqual does.
    expect(sameSecret("short", "manager-token-0123456789")).toBe(false);
    expect(sameSecret("", "manager-token-0123456789")).toBe(false);
    expect(sameSecret("", "")).toBe(true);
  });

  it("treats a string and its UTF-8 bytes alike", () => {
    expect(sameSecret(Buffer.from("tökén", "utf8"), "tökén")).toBe(true);
    expect(sameSecret(Buffer.from("token"), Buffer.from("token "))).toBe(false);
  });
});
