import { vi } from "vitest";

/**
 * Reads `probe` (vi.waitFor, every `interval` ms) until `ok` says yes, and returns that value.
 * On time-out it throws, saying what was awaited and the last value seen.
 */
export async function waitForValue<T>(
  probe: () => T | Promise<T>,
  ok: (value: T) => boolean,
  options: { what: string; timeout: number; interval?: number },
): Promise<T> {
  return vi.waitFor(
    async () => {
      const value = await probe();
      if (!ok(value)) throw new Error(`timed out waiting for ${options.what}: ${JSON.stringify(value)?.slice(0, 2000)}`);
      return value;
    },
    { timeout: options.timeout, interval: options.interval ?? 100 },
  );
}

/** Waits (vi.waitFor, every `interval` ms) until `condition` holds; fails the test on time-out. */
export async function waitUntil(condition: () => boolean, options: { timeout?: number; interval?: number } = {}): Promise<void> {
  await vi.waitFor(() => {
    if (!condition()) throw new Error("the condition did not hold in time");
  }, { timeout: options.timeout ?? 5_000, interval: options.interval ?? 10 });
}
