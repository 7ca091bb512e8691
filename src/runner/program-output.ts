import { appendFileSync, existsSync, renameSync, statSync } from "node:fs";
import type { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";

/** How many of the program's last lines a decision quotes. */
const TAIL_LINES = 10;
const LINE_MAX = 400;

/**
 * The output of the program a runner runs (a deployed build): passed on to the runner's own
 * stdout and stderr as it comes (so `docker logs` and the manager's view still show it), kept
 * in `file` when given — bounded: past `maxBytes` the file moves to `<file>.1` (one old file
 * kept) — and its last lines remembered, so the decision that marks a build bad can say why.
 */
export class ProgramOutput {
  private tail: string[] = [];
  private partial = "";

  constructor(private readonly options: { file?: string; maxBytes?: number } = {}) {}

  /** Starts a run: a header line in the file, and a fresh tail. */
  begin(header: string): void {
    this.tail = [];
    this.partial = "";
    this.append(`--- ${new Date().toISOString()} ${header} ---\n`);
  }

  /** Reads `stream` (stdout or stderr of the program) until it ends. */
  follow(stream: Readable, echo: NodeJS.WritableStream): void {
    const decoder = new StringDecoder("utf8");
    stream.on("data", (chunk: Buffer) => {
      echo.write(chunk);
      this.take(decoder.write(chunk));
    });
    stream.once("end", () => this.take(decoder.end()));
  }

  /** The program's last lines (at most ten, each cut at 400 characters). */
  lastLines(): string[] {
    const lines = this.partial ? [...this.tail, this.partial] : [...this.tail];
    return lines.slice(-TAIL_LINES).map((l) => (l.length > LINE_MAX ? `${l.slice(0, LINE_MAX)}…` : l));
  }

  private take(text: string): void {
    if (!text) return;
    this.append(text);
    const parts = (this.partial + text).split(/\r?\n/);
    this.partial = parts.pop() ?? "";
    for (const line of parts) if (line.trim()) this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.splice(0, this.tail.length - TAIL_LINES);
  }

  private append(text: string): void {
    const file = this.options.file;
    if (!file) return;
    try {
      if (existsSync(file) && statSync(file).size > (this.options.maxBytes ?? 10 * 1024 * 1024)) renameSync(file, `${file}.1`);
      appendFileSync(file, text, { mode: 0o600 });
    } catch {
      // The log is a convenience: a full disk must not stop the program it watches.
    }
  }
}
