/**
 * Limits on webhook bodies whose signature is not checked yet. Anyone can open a connection to
 * the webhook endpoint, so whatever such a body costs must stay bounded however many arrive.
 */
export interface WebhookLimits {
  /** GitHub caps webhook payloads at 25 MB; a larger declared `content-length` is refused (413). */
  maxBodyBytes: number;
  /** Unverified bodies read at one time; past it new deliveries get 503 with `Retry-After`. */
  maxBodies: number;
  /** Declared bytes of those bodies together (a body is admitted only if its whole length fits). */
  maxBytes: number;
  /** Time a whole body may take to arrive; a slower sender is cut off with 408. */
  bodyTimeoutMs: number;
  /**
   * When the limits are reached, a body that has been arriving for longer than this is cut off
   * (408) to make room for a new delivery. GitHub sends a body in milliseconds, so a flood of
   * slow connections cannot keep GitHub's deliveries out for the whole body timeout.
   */
  stalledAfterMs: number;
}

export const defaultWebhookLimits: WebhookLimits = {
  maxBodyBytes: 25 * 1024 * 1024,
  maxBodies: 32,
  // One body of GitHub's largest size plus room for the usual small ones (a few kB each).
  maxBytes: 32 * 1024 * 1024,
  // GitHub gives up on a delivery after 10 s; a body still arriving by then answers no one.
  bodyTimeoutMs: 10_000,
  stalledAfterMs: 1_000,
};

interface Body {
  bytes: number;
  since: number;
  cut: () => void;
}

/**
 * The unverified bodies in flight: `admit` takes a body's declared length up front, so the
 * total never exceeds `maxBytes` however fast the senders then send. When there is no room,
 * the oldest bodies that have been arriving longer than `stalledAfterMs` are cut off, but only
 * if that makes room; otherwise the new delivery is refused and nothing is cut.
 */
export class UnverifiedBodies {
  private readonly bodies = new Set<Body>();
  private bytes = 0;

  constructor(
    private readonly limits: Pick<WebhookLimits, "maxBodies" | "maxBytes" | "stalledAfterMs">,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Room for a body of `bytes`: a function that gives the room back (call it once the body
   * has arrived or failed; calling it again does nothing), or undefined when there is none.
   * `cut` is called if this body is later cut off to make room; its room is already given back.
   */
  admit(bytes: number, cut: () => void): (() => void) | undefined {
    if (!this.fits(bytes, 0, 0)) {
      const stalled = this.stalled();
      const freed = stalled.reduce((sum, b) => sum + b.bytes, 0);
      if (!this.fits(bytes, stalled.length, freed)) return undefined;
      // Oldest first, only as many as needed.
      for (const body of stalled) {
        if (this.fits(bytes, 0, 0)) break;
        this.remove(body);
        body.cut();
      }
    }
    const body: Body = { bytes, since: this.now(), cut };
    this.bodies.add(body);
    this.bytes += bytes;
    return () => this.remove(body);
  }

  /** Bodies and declared bytes in flight now. */
  get inFlight(): { bodies: number; bytes: number } {
    return { bodies: this.bodies.size, bytes: this.bytes };
  }

  private fits(bytes: number, removedBodies: number, removedBytes: number): boolean {
    return this.bodies.size - removedBodies < this.limits.maxBodies && this.bytes - removedBytes + bytes <= this.limits.maxBytes;
  }

  /** Bodies older than `stalledAfterMs`, oldest first (a Set iterates in insertion order). */
  private stalled(): Body[] {
    const before = this.now() - this.limits.stalledAfterMs;
    const found: Body[] = [];
    for (const body of this.bodies) {
      if (body.since > before) break;
      found.push(body);
    }
    return found;
  }

  private remove(body: Body): void {
    if (this.bodies.delete(body)) this.bytes -= body.bytes;
  }
}
