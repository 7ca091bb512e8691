import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { type LogText, LogDemuxer } from "../../src/executor/docker/demux.js";
import { jsonLines } from "../../src/executor/docker/json-lines.js";

/** One frame as the engine sends it: stream type, three zero bytes, big-endian size, payload. */
function frame(stream: 1 | 2, payload: string | Buffer): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

/** Feeds `bytes` in pieces cut at `cuts`, and joins what comes out per stream. */
function feed(demuxer: LogDemuxer, bytes: Buffer, cuts: number[]): { stdout: string; stderr: string; pieces: LogText[] } {
  const pieces: LogText[] = [];
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    pieces.push(...demuxer.write(bytes.subarray(from, to)));
    from = to;
  }
  pieces.push(...demuxer.end());
  const join = (stream: string) => pieces.filter((p) => p.stream === stream).map((p) => p.text).join("");
  return { stdout: join("stdout"), stderr: join("stderr"), pieces };
}

describe("LogDemuxer", () => {
  const bytes = Buffer.concat([frame(1, "hello\n"), frame(2, "oops\n"), frame(1, "world\n")]);

  it("separates stdout and stderr and keeps their order", () => {
    const { pieces } = feed(new LogDemuxer(true), bytes, []);
    expect(pieces).toEqual([
      { stream: "stdout", text: "hello\n" },
      { stream: "stderr", text: "oops\n" },
      { stream: "stdout", text: "world\n" },
    ]);
  });

  it("gives the same text however the frames are cut, headers included", () => {
    for (let size = 1; size <= bytes.length; size++) {
      const cuts = Array.from({ length: Math.ceil(bytes.length / size) - 1 }, (_, i) => (i + 1) * size);
      const { stdout, stderr } = feed(new LogDemuxer(true), bytes, cuts);
      expect({ size, stdout, stderr }).toEqual({ size, stdout: "hello\nworld\n", stderr: "oops\n" });
    }
  });

  it("decodes a UTF-8 character split across two frames of one stream, with the other stream in between", () => {
    const euro = Buffer.from("€"); // three bytes
    const bytes = Buffer.concat([
      frame(1, Buffer.concat([Buffer.from("price "), euro.subarray(0, 1)])),
      frame(2, Buffer.from("ünïcode ")),
      frame(1, euro.subarray(1)),
      frame(2, "err\n"),
      frame(1, " 5\n"),
    ]);
    // Cut inside a header and inside the stderr payload's "ü" as well.
    const { stdout, stderr } = feed(new LogDemuxer(true), bytes, [3, 15, 19]);
    expect(stdout).toBe("price € 5\n");
    expect(stderr).toBe("ünïcode err\n");
    expect(stdout + stderr).not.toContain("\uFFFD");
  });

  it("passes a large frame on as it arrives, not only once complete", () => {
    const demuxer = new LogDemuxer(true);
    const big = frame(1, "x".repeat(100_000));
    expect(demuxer.write(big.subarray(0, 1_008))).toEqual([{ stream: "stdout", text: "x".repeat(1_000) }]);
    expect(demuxer.write(big.subarray(1_008)).map((p) => p.text.length)).toEqual([99_000]);
  });

  it("reads a TTY container's raw stream as stdout, characters split across chunks included", () => {
    const raw = Buffer.from("tty ✓ output\r\n");
    const { stdout, stderr } = feed(new LogDemuxer(false), raw, [5, 6]);
    expect(stdout).toBe("tty ✓ output\r\n");
    expect(stderr).toBe("");
  });

  it("hands back an incomplete character at the end instead of dropping the stream's tail", () => {
    const { stdout } = feed(new LogDemuxer(true), frame(1, Buffer.from("ok €").subarray(0, 4)), []);
    expect(stdout).toBe("ok \uFFFD");
  });
});

describe("jsonLines", () => {
  it("parses progress lines cut anywhere, keeps text that is not JSON, and skips blank lines", async () => {
    const text = '{"stream":"Step 1/2 : FROM node"}\r\n\r\n{"errorDetail":{"message":"bröken"},"error":"bröken"}\nplain words\n{"status":"done"}';
    const bytes = Buffer.from(text);
    // Cut inside a line and inside the two bytes of an "ö".
    const inside = bytes.indexOf(Buffer.from("ö")) + 1;
    const chunks = [bytes.subarray(0, 7), bytes.subarray(7, inside), bytes.subarray(inside)];
    const events = [];
    for await (const event of jsonLines(Readable.from(chunks))) events.push(event);
    expect(events).toEqual([
      { stream: "Step 1/2 : FROM node" },
      { errorDetail: { message: "bröken" }, error: "bröken" },
      { stream: "plain words\n" },
      { status: "done" },
    ]);
  });
});
