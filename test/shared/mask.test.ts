import { describe, expect, it } from "vitest";
import { MASK, MIN_SECRET_LENGTH, Masker } from "../../src/shared/mask.js";

const SECRET = "s3cr3t/Välue+with spaces&more=\"quotes\"";

/** Feeds `text` through a fresh masker cut at `at`, as a build's output arrives in two writes. */
function streamed(secrets: string[], text: string, at: number): string {
  const masker = new Masker(secrets);
  return masker.write(text.slice(0, at)) + masker.write(text.slice(at)) + masker.flush();
}

/** Every cut of `text` into two writes masks `form` as a whole one-shot mask does. */
function expectMaskedEverywhere(secrets: string[], text: string, form: string): void {
  const whole = new Masker(secrets).mask(text);
  expect(whole).not.toContain(form);
  expect(whole).toContain(MASK);
  for (let at = 0; at <= text.length; at++) {
    const out = streamed(secrets, text, at);
    expect(out, `cut at ${at}`).toBe(whole);
  }
}

describe("Masker", () => {
  it("masks the literal value, also split across two writes", () => {
    expectMaskedEverywhere([SECRET], `before ${SECRET} after\n`, SECRET);
  });

  it("masks base64 and URL-safe base64 of the value, at every alignment inside longer data", () => {
    for (let prefix = 0; prefix < 3; prefix++) {
      const data = Buffer.concat([Buffer.from("xyz".slice(0, prefix)), Buffer.from(SECRET), Buffer.from("-tail-bytes")]);
      for (const encoding of ["base64", "base64url"] as const) {
        const encoded = data.toString(encoding);
        // The characters that depend on the secret alone: a leak would show the value's middle.
        const middle = encoded.slice(4, -16);
        const masked = new Masker([SECRET]).mask(`out: ${encoded}\n`);
        expect(masked, `${encoding} at offset ${prefix}`).not.toContain(middle);
        expect(Buffer.from(masked.slice(5), encoding).toString("utf8")).not.toContain(SECRET.slice(2, -2));
        expectMaskedEverywhere([SECRET], `out: ${encoded}\n`, middle);
      }
    }
  });

  it("masks the value URL-encoded (encodeURIComponent, form encoding, lower-case escapes)", () => {
    const params = new URLSearchParams({ token: SECRET }).toString();
    for (const form of [encodeURIComponent(SECRET), params.slice("token=".length), encodeURIComponent(SECRET).replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase())]) {
      expect(form).not.toBe(SECRET);
      expectMaskedEverywhere([SECRET], `GET /x?token=${form}&a=1\n`, form);
    }
  });

  it("masks the value JSON-escaped", () => {
    const json = JSON.stringify({ password: SECRET });
    const inside = JSON.stringify(SECRET).slice(1, -1);
    expect(inside).not.toBe(SECRET);
    expectMaskedEverywhere([SECRET], `${json}\n`, inside);
    expect(new Masker([SECRET]).mask(json)).toBe(`{"password":"${MASK}"}`);
  });

  it("masks the value in hex, lower and upper case", () => {
    const hex = Buffer.from(SECRET).toString("hex");
    expectMaskedEverywhere([SECRET], `dump: 00ff${hex}00\n`, hex);
    expectMaskedEverywhere([SECRET], `DUMP: 00FF${hex.toUpperCase()}00\n`, hex.toUpperCase());
  });

  it("masks a multi-line value whole and line by line, and leaves short lines alone", () => {
    const key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nshort\n-----END KEY-----";
    const masker = new Masker([key]);
    expect(masker.mask(`key:\n${key}\nend`)).toBe(`key:\n${MASK}\nend`);
    expect(masker.mask("line 2 is MIIEvQIBADANBgkqhkiG9w0BAQEFAASC.")).toBe(`line 2 is ${MASK}.`);
    expect(masker.mask("a short line")).toBe("a short line");
    expect(masker.mask(JSON.stringify(key))).toBe(`"${MASK}"`);
  });

  it(`ignores values shorter than ${MIN_SECRET_LENGTH} characters, which the config refuses anyway`, () => {
    const masker = new Masker(["abc1234", undefined, null, ""]);
    expect(masker.active).toBe(false);
    expect(masker.mask("abc1234")).toBe("abc1234");
  });

  it("releases held-back text that turned out not to be a secret", () => {
    const masker = new Masker(["abcdefgh-secret"]);
    expect(masker.write("ends with abcdef")).toBe("ends with ");
    expect(masker.write("g and more\n")).toBe("abcdefg and more\n");
    expect(masker.write("abc")).toBe("");
    expect(masker.flush()).toBe("abc");
  });

  it("masks a long secret split across many one-character writes", () => {
    const key = `${"k".repeat(20)}\n${"0123456789".repeat(50)}`;
    const masker = new Masker([key]);
    let out = "";
    for (const c of `start ${key} end`) out += masker.write(c);
    out += masker.flush();
    expect(out).toBe(`start ${MASK} end`);
  });
});
