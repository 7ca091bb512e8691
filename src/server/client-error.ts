import { STATUS_CODES, maxHeaderSize, type Server } from "node:http";
import type { Duplex } from "node:stream";
import { errors, type CicdError } from "../shared/errors.js";

/**
 * Answers requests that Node's HTTP parser refuses before any handler sees them (headers or URL
 * too large, a request that did not arrive in time, malformed HTTP) the way every other error of
 * the API is answered: JSON `{"error","code"}`. Without this, Node writes a bare status line with
 * no body, which clients and the API's contract cannot read.
 */
export function answerClientErrors(server: Server): void {
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    // A connection reset or already answered (e.g. a timeout after a response began) has no one to tell.
    if (error.code === "ECONNRESET" || !socket.writable) return void socket.destroy();
    const refused = refusalFor(error.code);
    const body = JSON.stringify({ error: refused.message, code: refused.code });
    socket.end(
      `HTTP/1.1 ${refused.status} ${STATUS_CODES[refused.status]}\r\n` +
        `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
}

function refusalFor(code: string | undefined): CicdError {
  if (code === "HPE_HEADER_OVERFLOW") return errors.headersTooLarge(`${Math.round(maxHeaderSize / 1024)} kB`);
  if (code === "ERR_HTTP_REQUEST_TIMEOUT" || code === "ERR_HTTP_HEADERS_TIMEOUT") return errors.requestTimeout();
  return errors.badRequest("this is not an HTTP request the server can read");
}
