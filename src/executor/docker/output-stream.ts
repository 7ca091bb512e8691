import type { Readable } from "node:stream";
import { Writable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import type Dockerode from "dockerode";

/**
 * Reads a container's or service's log stream to its end, passing stdout and stderr on as text
 * in the order the engine sent them. Without a TTY the engine multiplexes the two (8-byte frame
 * headers), which dockerode's demuxer takes apart; with one the stream is the text itself. Each
 * stream has its own decoder, so a character cut between frames is not mangled. Resolves when
 * the stream ends or is cut (the workload was removed): either way there is nothing more to read.
 */
export function followOutput(modem: Dockerode["modem"], stream: Readable, tty: boolean, onChunk: (text: string) => void): Promise<void> {
  const sink = () => {
    const decoder = new StringDecoder("utf8");
    const writable = new Writable({
      write(chunk: Buffer, _encoding, done) {
        const text = decoder.write(chunk);
        if (text) onChunk(text);
        done();
      },
    });
    return { writable, flush: () => { const rest = decoder.end(); if (rest) onChunk(rest); } };
  };
  const out = sink();
  const err = sink();
  return new Promise((resolve) => {
    let ended = false;
    const finish = () => {
      if (ended) return;
      ended = true;
      out.flush();
      err.flush();
      resolve();
    };
    stream.once("end", finish);
    stream.once("close", finish);
    stream.once("error", finish);
    if (tty) stream.on("data", (chunk: Buffer) => out.writable.write(chunk));
    else modem.demuxStream(stream, out.writable, err.writable);
  });
}
