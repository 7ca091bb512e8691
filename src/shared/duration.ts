import { errors } from "./errors.js";

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses durations as users write them in config and flags: `500ms`, `30s`, `30m`, `1h30m`,
 * or a plain number of seconds. Throws INVALID_ARGUMENT naming `field` otherwise.
 */
export function parseDuration(value: string | number, field = "duration"): number {
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) return value * 1000;
  const text = String(value).trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (!parts.length || parts.map((p) => p[0]).join("") !== text) {
    throw errors.invalidArgument(field, "a duration like 30s, 10m or 1h30m", value);
  }
  return parts.reduce((sum, p) => sum + Number(p[1]) * (units[p[2]!] ?? 0), 0);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${m} min ${s} s`;
}
