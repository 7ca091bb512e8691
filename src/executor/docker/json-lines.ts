import { StringDecoder } from "node:string_decoder";

/** One event of a build's or pull's progress stream (fields as the engine spells them). */
export interface ProgressEvent {
  stream?: string;
  status?: string;
  progress?: string;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/**
 * The events of a progress stream (POST /build, POST /images/create): one JSON object per line,
 * lines cut anywhere by the transport. A line that is not JSON is passed on as `stream` text
 * rather than lost.
 */
export async function* jsonLines(body: AsyncIterable<Buffer | string>): AsyncGenerator<ProgressEvent> {
  const decoder = new StringDecoder("utf8");
  let rest = "";
  for await (const chunk of body) {
    rest += decoder.write(chunk);
    const lines = rest.split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) {
      const event = parse(line);
      if (event) yield event;
    }
  }
  const last = parse(rest + decoder.end());
  if (last) yield last;
}

function parse(line: string): ProgressEvent | undefined {
  const text = line.trim();
  if (!text) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === "object") return value as ProgressEvent;
  } catch {
    // fall through
  }
  return { stream: `${text}\n` };
}

/** The error an event reports (a failed build step, a failed layer download), if any. */
export function progressError(event: ProgressEvent): string | undefined {
  const message = event.error ?? event.errorDetail?.message;
  return message?.trim() || undefined;
}

/**
 * Reads a progress stream to its end, passing each event to `onProgress`; rejects with the first
 * error it reported (a build step that failed, a pull refused), or when the stream broke off.
 */
export async function followProgress(body: AsyncIterable<Buffer | string>, onProgress: (event: ProgressEvent) => void): Promise<void> {
  let firstError: string | undefined;
  try {
    for await (const event of jsonLines(body)) {
      firstError ??= progressError(event);
      onProgress(event);
    }
  } catch (error) {
    throw new Error(`the progress stream broke off (${(error as Error).message})`, { cause: error });
  }
  if (firstError) throw new Error(firstError);
}
