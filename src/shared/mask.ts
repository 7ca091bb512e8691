/**
 * Masks secret values in streamed output. A secret split across two writes is still masked:
 * the masker holds back the longest tail of the text seen so far that could still be the start
 * of a secret (in any of its forms), and releases it once it is clearly not one (or on flush).
 *
 * A build prints secrets in more forms than the literal one: `echo $TOKEN | base64`, a URL
 * with the token in its query, a JSON body, a hex dump. Each secret is masked as:
 *  - the literal value, and each of its lines (a multi-line value such as a PEM key is often
 *    printed a line at a time);
 *  - JSON-escaped (the inside of `JSON.stringify(value)`, also with `\/` and `\uXXXX` escapes);
 *  - URL-encoded (`encodeURIComponent`, `encodeURI`, form encoding with `+` for spaces, and
 *    with lower-case `%xx` escapes);
 *  - hex, lower and upper case;
 *  - base64, standard and URL-safe: a secret inside a longer base64 text starts at one of three
 *    byte offsets modulo 3, and for each the characters that depend on the secret's bytes
 *    alone are masked (the one or two characters at each end shared with neighbouring bytes
 *    cannot be known in advance).
 */
export const MASK = "***";

/**
 * The shortest value masked, and the shortest secret the config accepts (check-secrets.ts).
 * Shorter values would be masked wherever they happen to occur in ordinary output (a 3-letter
 * value turns up in words and numbers), so the holes in the log would point at the value, and
 * their base64 forms (a few characters) would match random text; 8 characters is also the
 * least that leaves a stable middle of 10 characters in every base64 alignment.
 */
export const MIN_SECRET_LENGTH = 8;

export class Masker {
  /** Every form of every secret, longest first (a longer form is masked before its parts). */
  private readonly patterns: string[];
  private pending = "";

  constructor(secrets: Iterable<string | undefined | null>) {
    const forms = new Set<string>();
    for (const secret of secrets) {
      if (typeof secret !== "string" || secret.length < MIN_SECRET_LENGTH) continue;
      for (const form of formsOf(secret)) if (form.length >= MIN_SECRET_LENGTH) forms.add(form);
    }
    this.patterns = [...forms].sort((a, b) => b.length - a.length);
  }

  get active(): boolean {
    return this.patterns.length > 0;
  }

  /** Masks a complete text (no carry-over). */
  mask(text: string): string {
    return this.maskBefore(text, text.length).out;
  }

  /**
   * Feeds a chunk of a stream; returns what can safely be emitted now. The held-back tail is
   * kept unmasked and scanned again with the next chunk, so a complete form that is also the
   * start of a longer one (the first line of a multi-line key) waits to be masked whole.
   */
  write(chunk: string): string {
    if (!this.active) return chunk;
    const text = this.pending + chunk;
    const { out, cut } = this.maskBefore(text, text.length - this.holdBack(text));
    this.pending = text.slice(cut);
    return out;
  }

  /** Ends the stream: returns whatever was held back, masked. */
  flush(): string {
    const rest = this.mask(this.pending);
    this.pending = "";
    return rest;
  }

  /**
   * Masks `text` up to `limit`: occurrences are taken leftmost first, the longest at one place,
   * none overlapping (the same choice whether the text comes whole or in pieces). An occurrence
   * that starts before `limit` and ends after it moves the cut back to its start.
   */
  private maskBefore(text: string, limit: number): { out: string; cut: number } {
    const found: Array<[start: number, end: number]> = [];
    for (const pattern of this.patterns) {
      for (let at = text.indexOf(pattern); at !== -1 && at < limit; at = text.indexOf(pattern, at + 1)) found.push([at, at + pattern.length]);
    }
    found.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
    let out = "";
    let done = 0;
    let cut = limit;
    for (const [start, end] of found) {
      if (start < done) continue;
      if (end > limit) {
        cut = start;
        break;
      }
      out += text.slice(done, start) + MASK;
      done = end;
    }
    return { out: out + text.slice(done, cut), cut };
  }

  /**
   * Length of the longest suffix of `text` that is a proper prefix of some pattern. Only the
   * positions where a pattern's first character occurs are tried, so a long secret (a key of a
   * few kilobytes, and its hex and base64 forms) costs about one pass over the tail per write.
   */
  private holdBack(text: string): number {
    let best = 0;
    for (const pattern of this.patterns) {
      const first = pattern[0]!;
      let at = text.indexOf(first, Math.max(0, text.length - (pattern.length - 1)));
      // Only a suffix longer than the best so far can change the answer.
      while (at !== -1 && text.length - at > best) {
        if (pattern.startsWith(text.slice(at))) {
          best = text.length - at;
          break;
        }
        at = text.indexOf(first, at + 1);
      }
    }
    return best;
  }
}

/** The forms a build can print `secret` in (see the class comment). May hold duplicates. */
function formsOf(secret: string): string[] {
  const values = [secret, ...secret.split(/\r?\n/).filter((line) => line.length >= MIN_SECRET_LENGTH && line !== secret)];
  const forms: string[] = [];
  for (const value of values) {
    forms.push(value, ...jsonForms(value), ...urlForms(value));
    const hex = Buffer.from(value, "utf8").toString("hex");
    forms.push(hex, hex.toUpperCase(), ...base64Forms(value));
  }
  return forms;
}

function jsonForms(value: string): string[] {
  const json = JSON.stringify(value).slice(1, -1);
  const ascii = json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return [json, json.replace(/\//g, "\\/"), ascii, ascii.replace(/\\u([0-9a-f]{4})/g, (_, h: string) => `\\u${h.toUpperCase()}`)];
}

function urlForms(value: string): string[] {
  const component = encodeURIComponent(value);
  const form = new URLSearchParams([["", value]]).toString().slice(1);
  const lower = (s: string) => s.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase());
  const forms = [component, component.replace(/%20/g, "+"), form, encodeURI(value)];
  return [...forms, ...forms.map(lower)];
}

/**
 * For each offset a (0, 1, 2) of the secret modulo 3 inside encoded data, the base64 characters
 * that depend on the secret's bytes only: character i covers bits [6i, 6i+6) of the stream, the
 * secret bits [8a, 8a+8n), so characters ceil(8a/6) to floor((8a+8n)/6) are its own.
 */
function base64Forms(value: string): string[] {
  const bytes = Buffer.from(value, "utf8");
  const forms: string[] = [];
  for (let a = 0; a < 3; a++) {
    const encoded = Buffer.concat([Buffer.alloc(a), bytes, Buffer.alloc(2)]).toString("base64");
    const stable = encoded.slice(Math.ceil((8 * a) / 6), Math.floor((8 * a + 8 * bytes.length) / 6));
    forms.push(stable, stable.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  return forms;
}
