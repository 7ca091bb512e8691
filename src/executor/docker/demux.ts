import { StringDecoder } from "node:string_decoder";

export type LogStreamName = "stdout" | "stderr";

/** A piece of a container's output, decoded. */
export interface LogText {
  stream: LogStreamName;
  text: string;
}

const HEADER = 8;

/**
 * Turns the bytes of `GET /containers/{id}/logs` into text. Without a TTY the engine
 * multiplexes stdout and stderr into frames: an 8-byte header (stream type: 1 stdout, 2 stderr;
 * three zero bytes; the payload size, big-endian uint32), then the payload. A TTY container's
 * output is one raw stream (reported as stdout). Frames and UTF-8 characters may be cut anywhere
 * by the transport, so a header is kept until complete, a payload is passed on as it arrives,
 * and each stream has its own decoder: a character split across two frames of one stream
 * still decodes, even with the other stream's frames in between.
 */
export class LogDemuxer {
  private readonly decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
  private header = Buffer.alloc(0);
  private stream: LogStreamName = "stdout";
  /** Payload bytes of the current frame still to come. */
  private remaining = 0;

  constructor(private readonly multiplexed: boolean) {}

  write(chunk: Buffer): LogText[] {
    const out: LogText[] = [];
    if (!this.multiplexed) {
      this.emit(out, "stdout", chunk);
      return out;
    }
    let offset = 0;
    while (offset < chunk.length) {
      if (this.remaining === 0) {
        const wanted = HEADER - this.header.length;
        this.header = Buffer.concat([this.header, chunk.subarray(offset, offset + wanted)]);
        offset += Math.min(wanted, chunk.length - offset);
        if (this.header.length < HEADER) break;
        // Stream 0 (stdin) never carries output; anything but stderr counts as stdout.
        this.stream = this.header[0] === 2 ? "stderr" : "stdout";
        this.remaining = this.header.readUInt32BE(4);
        this.header = Buffer.alloc(0);
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - offset);
      this.emit(out, this.stream, chunk.subarray(offset, offset + take));
      this.remaining -= take;
      offset += take;
    }
    return out;
  }

  /** The end of the stream: what the decoders still hold (an incomplete character). */
  end(): LogText[] {
    const out: LogText[] = [];
    for (const stream of ["stdout", "stderr"] as const) {
      const text = this.decoders[stream].end();
      if (text) out.push({ stream, text });
    }
    return out;
  }

  private emit(out: LogText[], stream: LogStreamName, bytes: Buffer): void {
    const text = this.decoders[stream].write(bytes);
    if (!text) return;
    // Consecutive pieces of one stream within a chunk arrive as one.
    const last = out.at(-1);
    if (last?.stream === stream) last.text += text;
    else out.push({ stream, text });
  }
}
