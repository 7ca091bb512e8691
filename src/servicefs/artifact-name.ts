import path from "node:path";

const DOUBLE_EXTENSIONS = [".tar.gz", ".tar.bz2", ".tar.xz", ".tar.zst"];

/** `20261126T220501123Z`: UTC, millisecond precision, sortable as text. */
export function utcStamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, "").replace(".", "");
}

/** Splits `app-1.0.jar` into `app-1.0` and `.jar` (and `site.tar.gz` into `site` and `.tar.gz`). */
export function splitName(file: string): { stem: string; ext: string } {
  const base = path.basename(file);
  const double = DOUBLE_EXTENSIONS.find((e) => base.toLowerCase().endsWith(e) && base.length > e.length);
  if (double) return { stem: base.slice(0, -double.length), ext: base.slice(base.length - double.length) };
  const ext = path.extname(base);
  return ext && ext !== base ? { stem: base.slice(0, -ext.length), ext } : { stem: base, ext: "" };
}

/** `<stem>-<UTC timestamp>.<ext>`, e.g. `app-1.0-20261126T220501123Z.jar`. */
export function artifactName(file: string, date: Date): string {
  const { stem, ext } = splitName(file);
  return `${stem}-${utcStamp(date)}${ext}`;
}
