import { open } from "node:fs/promises";

/**
 * The last `maxBytes` of a log file as text (an empty string when there is no log yet), and
 * whether earlier output was left out. A line cut in half at the start is dropped, and so is a
 * character cut in half (the decoder replaces it, then the partial line goes).
 */
export async function readLogTail(file: string, maxBytes: number): Promise<{ text: string; truncated: boolean }> {
  let handle;
  try {
    handle = await open(file, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { text: "", truncated: false };
    throw error;
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    let text = buffer.toString("utf8");
    const truncated = size > length;
    if (truncated) {
      const newline = text.indexOf("\n");
      text = newline >= 0 ? text.slice(newline + 1) : text;
    }
    return { text, truncated };
  } finally {
    await handle.close();
  }
}
