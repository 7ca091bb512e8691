import type { BuildsFeed } from "./build-source.js";

/** One look at the source: whether it answered, and whether the builds changed since the last look. */
export interface Look {
  ok: boolean;
  changed: boolean;
}

/**
 * A BuildsFeed for a source that can only be asked (the REST API: there is no file to watch).
 * Looks every `intervalMs`; while looks fail the pause doubles up to `maxIntervalMs`, so a server
 * that is down is not hammered, and goes back to `intervalMs` after the first look that answers.
 * Looks never overlap.
 */
export class PollFeed implements BuildsFeed {
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private delay: number;
  private closed = false;

  constructor(
    private readonly look: () => Promise<Look>,
    private readonly options: { intervalMs: number; maxIntervalMs: number },
  ) {
    this.delay = Math.max(10, options.intervalMs);
    this.schedule();
  }

  /** The pause before the next look (grows while the source does not answer). */
  get nextDelayMs(): number {
    return this.delay;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.listeners.clear();
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.tick(), this.delay);
  }

  private async tick(): Promise<void> {
    const { ok, changed } = await this.look().catch((): Look => ({ ok: false, changed: false }));
    if (this.closed) return;
    const base = Math.max(10, this.options.intervalMs);
    this.delay = ok ? base : Math.min(Math.max(base, this.options.maxIntervalMs), this.delay * 2);
    if (changed) for (const listener of [...this.listeners]) listener();
    this.schedule();
  }
}
