import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import { errors } from "../shared/errors.js";
import type { ArtifactUpload } from "../shared/protocol.js";

export interface UploadOptions {
  /** The manager's builder events URL (`…/internal/builders/events`); uploads go beside it. */
  managerUrl: string;
  /** This builder's own callback token. */
  token: string;
  builderId: string;
  signal?: AbortSignal;
  /** Give up on one file this long after its first try (default 2 min, like events). */
  giveUpAfterMs?: number;
}

/**
 * Sends a good build's files to the manager, which publishes them: the builder's container
 * never mounts the service file system, so nothing a build's commands do can write
 * `builds.json` or replace a published artifact. Each file goes as one streamed
 * `PUT …/internal/builders/<id>/artifacts/<index>?name=<file name>` with its SHA-256 in
 * `X-Cicd-Sha256` (the manager refuses a body that does not match it) and the builder's own
 * bearer token. Retried with back-off while the manager is unreachable or answers 5xx; a 4xx
 * answer is final. Returns what the `success` event lists, in order.
 */
export async function uploadArtifacts(files: string[], o: UploadOptions): Promise<ArtifactUpload[]> {
  const uploads: ArtifactUpload[] = [];
  const names = uniqueNames(files);
  for (const [index, file] of files.entries()) {
    const { size } = await stat(file);
    const sha256 = await hashFile(file, o.signal);
    const url = new URL(`${encodeURIComponent(o.builderId)}/artifacts/${index}?name=${encodeURIComponent(names[index]!)}`, o.managerUrl);
    await withRetries(() => putFile(url, file, size, sha256, o), o);
    uploads.push({ name: names[index]!, size, sha256 });
  }
  return uploads;
}

/** File names as published: the base name, with `-2`, `-3` … before the extension on a clash. */
export function uniqueNames(files: string[]): string[] {
  const seen = new Set<string>();
  return files.map((file) => {
    const base = path.basename(file);
    const ext = path.extname(base);
    let name = base;
    for (let n = 2; seen.has(name); n++) name = `${base.slice(0, base.length - ext.length)}-${n}${ext}`;
    seen.add(name);
    return name;
  });
}

function hashFile(file: string, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(file, { signal })
      .on("data", (chunk) => hash.update(chunk))
      .once("end", () => resolve(hash.digest("hex")))
      .once("error", reject);
  });
}

class FinalAnswer extends Error {}

async function withRetries(attempt: () => Promise<void>, o: UploadOptions): Promise<void> {
  const giveUpAt = Date.now() + (o.giveUpAfterMs ?? 120_000);
  for (let delay = 200; ; delay = Math.min(delay * 2, 5_000)) {
    try {
      return await attempt();
    } catch (error) {
      if (error instanceof FinalAnswer || o.signal?.aborted || Date.now() + delay > giveUpAt) {
        throw errors.executorFailed(`Could not send the artifacts to the manager: ${(error as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

function putFile(url: URL, file: string, size: number, sha256: string, o: UploadOptions): Promise<void> {
  const transport = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const request = transport.request(url, {
      method: "PUT",
      signal: o.signal,
      headers: {
        authorization: `Bearer ${o.token}`,
        "content-type": "application/octet-stream",
        "content-length": size,
        "x-cicd-sha256": sha256,
      },
    }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (c: Buffer) => chunks.push(c));
      response.once("end", () => {
        const status = response.statusCode ?? 0;
        if (status >= 200 && status < 300) return resolve();
        const text = Buffer.concat(chunks).toString("utf8").slice(0, 300);
        const error = new Error(`the manager answered ${status} for ${path.basename(file)}: ${text}`);
        reject(status >= 500 || status === 429 ? error : new FinalAnswer(error.message));
      });
      response.once("error", reject);
    });
    request.once("error", reject);
    createReadStream(file).once("error", (error) => request.destroy(error)).pipe(request);
  });
}
