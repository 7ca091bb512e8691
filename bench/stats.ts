import { readFileSync } from "node:fs";

/** Small statistics for the benchmark: nearest-rank percentiles, seconds and milliseconds. */

/** The p-th percentile (0 < p ≤ 100) by the nearest-rank method: always one of the samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (!samples.length) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(Math.max(rank, 1), sorted.length) - 1]!;
}

/** The median: the mean of the two middle samples when their number is even. */
export function median(samples: readonly number[]): number {
  if (!samples.length) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface Summary {
  n: number;
  median: number;
  p95: number;
  min: number;
  max: number;
}

export function summarize(samples: readonly number[]): Summary {
  return { n: samples.length, median: median(samples), p95: percentile(samples, 95), min: Math.min(...samples), max: Math.max(...samples) };
}

/** Milliseconds as seconds with two decimals: 0.42s. */
export const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)}s`;

/** Milliseconds with one decimal (answer times): 2.3ms. */
export const millis = (ms: number): string => `${ms.toFixed(1)}ms`;

/** Megabytes from kilobytes (VmRSS is in kB): 64.2MB. */
export const megabytes = (kb: number): string => `${(kb / 1024).toFixed(1)}MB`;

/** a / b with two decimals. */
export const ratio = (a: number, b: number): string => (a / b).toFixed(2);

/** Runs `work` and returns its result with the wall time it took in milliseconds. */
export async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await work();
  return { value, ms: performance.now() - start };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A whole number ≥ 1 from the environment variable `name`, or `fallback` when it is unset or empty. */
export function envInt(name: string, fallback: number): number {
  const text = process.env[name];
  const value = text === undefined || text === "" ? fallback : Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a whole number ≥ 1, got "${text}"`);
  return value;
}

/** "(target ≤ 0.50: met)" or "(target ≤ 0.50: MISSED)". */
export const verdict = (ok: boolean, target: string): string => `(target ${target}: ${ok ? "met" : "MISSED"})`;

/**
 * CPU time the whole machine spent so far, in seconds (user, nice, system, irq, softirq and
 * steal of /proc/stat's first line; idle and I/O wait left out), so a burst's CPU cost counts
 * every process it caused: the server, dockerd, containerd, the containers. Linux only.
 */
export function machineCpuSeconds(): number {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  // /proc/stat counts in USER_HZ ticks: 100 a second on Linux for every architecture it runs on.
  return (user + nice + system + irq + softirq + steal) / 100;
}
