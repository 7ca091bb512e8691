/** One Server-Sent Event as the stream sent it (`event` is "message" when it named none). */
export interface ServerSentEvent {
  event: string;
  data: string;
  /** The event's `id:`, when it had one. */
  id?: string;
}

/**
 * Parses a `text/event-stream` body into events, as EventSource does: fields up to a blank line,
 * `data:` fields joined with `\n`, comments (`:`) and `retry:` skipped, lines ended by `\n`,
 * `\r\n` or `\r`. Reads chunk by chunk, so a long stream is never held whole.
 */
export async function* serverSentEvents(body: AsyncIterable<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  let buffer = "";
  let event = "";
  let data: string[] = [];
  let id: string | undefined;
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    for (;;) {
      const match = /\r\n|\r|\n/.exec(buffer);
      // A `\r` at the very end may be the first half of `\r\n`: wait for the next chunk.
      if (!match || (match[0] === "\r" && match.index === buffer.length - 1)) break;
      const line = buffer.slice(0, match.index);
      buffer = buffer.slice(match.index + match[0].length);
      if (line === "") {
        if (data.length) yield { event: event || "message", data: data.join("\n"), ...(id === undefined ? {} : { id }) };
        event = "";
        data = [];
        id = undefined;
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
      else if (field === "id") id = value;
    }
  }
}
