import { createHash, timingSafeEqual } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readFile, rename, rm, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { errors } from "../shared/errors.js";
import type { ArtifactUpload } from "../shared/protocol.js";
import { fsyncFile } from "../servicefs/atomic-write.js";

/** Most files one build may send (a glob gone wrong should not fill the disk file by file). */
export const MAX_UPLOADS = 1000;
/** A file name as a builder may send it: no folders, not hidden, no control characters. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const UPLOAD_NAME = /^(?!\.)[^/\\\x00-\x1f\x7f]{1,255}$/;

/** One file as the manager received it (checked against the checksum the builder sent). */
export interface ReceivedFile {
  path: string;
  name: string;
  size: number;
}

/**
 * Where builders' uploads wait until their build's `success` event names them:
 * `<root>/<key>/<index>` and `<index>.json` (name, size, sha256 as computed here). A body is
 * written to a temp file while its SHA-256 is computed and only kept when it matches the
 * `X-Cicd-Sha256` the builder sent; so a file here is whole. Staged files survive a restart of
 * the manager (a builder still running sends its `success` to the next one).
 */
export class ArtifactInbox {
  constructor(readonly root: string) {}

  /** Streams one upload to disk; throws UNPROCESSABLE when it does not match its checksum. */
  async receive(key: string, index: number, name: string, sha256: string, body: Readable, declaredSize?: number): Promise<ReceivedFile> {
    if (!Number.isInteger(index) || index < 0 || index >= MAX_UPLOADS) throw errors.invalidArgument("artifact index", `a whole number below ${MAX_UPLOADS}`, index);
    if (!UPLOAD_NAME.test(name)) throw errors.invalidArgument("artifact name", "a plain file name (no folders, not hidden)", name.slice(0, 80));
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw errors.invalidArgument("X-Cicd-Sha256", "the file's SHA-256 in hex");
    const dir = path.join(this.root, key);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const final = path.join(dir, String(index));
    const tmp = `${final}.part`;
    const hash = createHash("sha256");
    let size = 0;
    body.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
    });
    try {
      await pipeline(body, createWriteStream(tmp, { mode: 0o600 }));
      const got = hash.digest();
      const want = Buffer.from(sha256, "hex");
      if (got.length !== want.length || !timingSafeEqual(got, want) || (declaredSize !== undefined && declaredSize !== size)) {
        throw errors.unprocessable(`The upload of ${name} does not match its checksum or size; send it again.`);
      }
      await fsyncFile(tmp);
      await rename(tmp, final);
      await writeFile(`${final}.json`, JSON.stringify({ name, size, sha256 }), { mode: 0o600 });
      return { path: final, name, size };
    } catch (error) {
      await unlink(tmp).catch(() => undefined);
      throw error;
    }
  }

  /**
   * The files a `success` event lists, each present with the same name, size and checksum as
   * received. Throws UNPROCESSABLE naming the first that is missing or different.
   */
  async verify(key: string, uploads: ArtifactUpload[]): Promise<ReceivedFile[]> {
    if (!uploads.length) throw errors.unprocessable("The builder reported success without sending any artifact.");
    const files: ReceivedFile[] = [];
    for (const [index, upload] of uploads.entries()) {
      const final = path.join(this.root, key, String(index));
      const seen = await readFile(`${final}.json`, "utf8").then((t) => JSON.parse(t) as ArtifactUpload, () => undefined);
      if (!seen || seen.name !== upload.name || seen.size !== upload.size || seen.sha256 !== upload.sha256) {
        throw errors.unprocessable(`The artifact ${upload.name} did not arrive whole at the manager; the build was not published.`);
      }
      files.push({ path: final, name: upload.name, size: upload.size });
    }
    return files;
  }

  /** Forgets everything staged for `key`. */
  async discard(key: string): Promise<void> {
    await rm(path.join(this.root, key), { recursive: true, force: true });
  }
}
