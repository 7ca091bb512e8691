import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { Masker } from "../shared/mask.js";

/** One output stream of a command (stdout or stderr) feeding the build log. */
export interface LogStream {
  write(chunk: string): void;
  /** Emits what the masker held back; call when the stream ended. */
  end(): void;
}

/**
 * The output of one build: everything goes to the console (`out`) and, given a folder, to
 * `<dir>/<key>.log` (0600), masked with every secret of the build. A builder started by the
 * manager has no folder: the manager keeps the one copy of the log (capped by `logLimit`)
 * from the builder's console. Each stream gets its own Masker, so a secret split across two
 * writes of one stream is still caught and two streams cannot interleave inside a held-back tail.
 */
export class BuildLog {
  private constructor(
    /** `<dir>/<key>.log`, or undefined when the log goes to the console only. */
    readonly file: string | undefined,
    private readonly secrets: string[],
    private readonly masker: Masker,
    private readonly sink: WriteStream | undefined,
    private readonly out: (text: string) => void,
  ) {}

  /** `dir` undefined: console only (no file); given a folder, `file` is the log's path. */
  static async open(dir: string, key: string, secrets: Iterable<string | undefined>, out: (text: string) => void): Promise<BuildLog & { readonly file: string }>;
  static async open(dir: string | undefined, key: string, secrets: Iterable<string | undefined>, out: (text: string) => void): Promise<BuildLog>;
  static async open(dir: string | undefined, key: string, secrets: Iterable<string | undefined>, out: (text: string) => void): Promise<BuildLog> {
    const values = [...secrets].filter((s): s is string => typeof s === "string");
    if (dir === undefined) return new BuildLog(undefined, values, new Masker(values), undefined, out);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, `${key}.log`);
    const sink = createWriteStream(file, { flags: "a", mode: 0o600 });
    await new Promise<void>((resolve, reject) => {
      sink.once("open", () => resolve());
      sink.once("error", reject);
    });
    return new BuildLog(file, values, new Masker(values), sink, out);
  }

  /** Masks a complete text (for error messages and event reasons). */
  mask(text: string): string {
    return this.masker.mask(text);
  }

  /** A builder line (header, result, note): masked, newline added. */
  line(text: string): void {
    this.emit(`${this.mask(text)}\n`);
  }

  stream(): LogStream {
    const masker = new Masker(this.secrets);
    return {
      write: (chunk) => this.emit(masker.write(chunk)),
      end: () => this.emit(masker.flush()),
    };
  }

  /** Ends the file; the log stays on disk. */
  async close(): Promise<void> {
    const sink = this.sink;
    if (!sink || sink.closed) return;
    await new Promise<void>((resolve) => sink.end(() => resolve()));
  }

  private emit(text: string): void {
    if (!text) return;
    this.out(text);
    if (this.sink && !this.sink.writableEnded) this.sink.write(text);
  }
}
