/**
 * Masks secret values in streamed output. A secret split across two writes is still masked:
 * the masker holds back the longest tail of the text seen so far that could still be the start
 * of a secret, and releases it once it is clearly not one (or on flush).
 */
export const MASK = "***";

export class Masker {
  private readonly secrets: string[];
  private pending = "";

  constructor(secrets: Iterable<string | undefined | null>) {
    // Very short values would mask half the log; 3 characters is the floor GitHub Actions uses too.
    this.secrets = [...new Set([...secrets].filter((s): s is string => typeof s === "string" && s.length >= 3))]
      .sort((a, b) => b.length - a.length);
  }

  get active(): boolean {
    return this.secrets.length > 0;
  }

  /** Masks a complete text (no carry-over). */
  mask(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join(MASK);
    return out;
  }

  /** Feeds a chunk of a stream; returns what can safely be emitted now. */
  write(chunk: string): string {
    if (!this.active) return chunk;
    const text = this.mask(this.pending + chunk);
    const hold = this.holdBack(text);
    this.pending = text.slice(text.length - hold);
    return text.slice(0, text.length - hold);
  }

  /** Ends the stream: returns whatever was held back, masked. */
  flush(): string {
    const rest = this.mask(this.pending);
    this.pending = "";
    return rest;
  }

  /** Length of the longest suffix of `text` that is a proper prefix of some secret. */
  private holdBack(text: string): number {
    let best = 0;
    for (const secret of this.secrets) {
      const max = Math.min(secret.length - 1, text.length);
      for (let n = max; n > best; n--) {
        if (text.endsWith(secret.slice(0, n))) {
          best = n;
          break;
        }
      }
    }
    return best;
  }
}
