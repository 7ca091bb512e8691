import type { AcceptedAnswer, BuildRequest, BusyAnswer } from "../shared/protocol.js";
import { errors } from "../shared/errors.js";
import { postJson } from "../shared/post-json.js";

/**
 * Calls a builder's run-build endpoint. Retries connection errors briefly (the builder said it
 * is ready, so its port is open; a retry covers a racing network setup), never the request
 * itself once answered. The request carries secrets, so errors never include the body.
 */
export async function sendBuildRequest(baseUrl: string, token: string, request: BuildRequest): Promise<AcceptedAnswer | BusyAnswer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const response = await postJson(`${baseUrl}/build`, request, { token, timeoutMs: 15_000 });
      const body = parseAnswer(response.text);
      if (response.status === 202 && body.status === "accepted") return { status: "accepted", key: body.key ?? request.key };
      if (response.status === 409 && body.status === "busy") return { status: "busy", key: body.key ?? "" };
      throw errors.executorFailed(`the builder refused the build (HTTP ${response.status}${body.error ? `: ${body.error}` : ""})`);
    } catch (error) {
      if (error instanceof Error && error.name === "CicdError") throw error;
      lastError = error;
      await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
    }
  }
  throw errors.executorFailed(`could not reach the builder at ${baseUrl}: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
}

function parseAnswer(text: string): Partial<AcceptedAnswer | BusyAnswer> & { error?: string } {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === "object" ? value : {};
  } catch {
    return {};
  }
}
