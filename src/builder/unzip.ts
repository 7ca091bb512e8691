import { createWriteStream } from "node:fs";
import { chmod, mkdir, realpath, symlink } from "node:fs/promises";
import path from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { crc32 } from "node:zlib";
import yauzl, { type Entry, type ZipFile } from "yauzl";
import { errors, isCicdError } from "../shared/errors.js";
import { assertRelativePath, isInside } from "../shared/safe-path.js";

/** Caps that keep a small archive from filling the builder's disk or inode table. */
export interface UnzipLimits {
  /** Entries in the archive (default 200,000). */
  maxEntries: number;
  /** Sum of the entries' sizes once unpacked (default 8 GiB). */
  maxBytes: number;
}

const DEFAULT_LIMITS: UnzipLimits = { maxEntries: 200_000, maxBytes: 8 * 1024 ** 3 };

/** A symlink's target is a path; anything longer is not one. */
const MAX_LINK_BYTES = 4096;

/**
 * Extracts a .zip into `dest` (ZIP64 included) with yauzl. yauzl parses the archive and checks
 * each entry's real size against its declared one; around it we keep our own rules. Entries must
 * stay inside `dest`: absolute names, `..`, symlinks pointing out, and writing through a symlink
 * are refused with UNSAFE_PATH. An archive over `limits` (entries, unpacked bytes) is refused
 * before a byte is written. Stored and deflated entries are supported, CRCs are checked, Unix
 * modes (e.g. the x bit of build.sh) are kept. Encrypted entries and other compression methods
 * are refused with a clear message. Returns the number of entries.
 */
export async function unzip(file: string, dest: string, limits: UnzipLimits = DEFAULT_LIMITS): Promise<number> {
  const bad = (why: string) => errors.sourceFetchFailed(path.basename(file), `not a usable .zip archive: ${why}`);
  let zip: ZipFile;
  try {
    // decodeStrings: false so names reach our own path check (UNSAFE_PATH), not yauzl's error.
    zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true });
  } catch (error) {
    throw bad((error as Error).message);
  }
  try {
    if (zip.entryCount > limits.maxEntries) throw bad(`it has ${zip.entryCount} entries, more than the ${limits.maxEntries} allowed`);
    const entries = await readDirectory(zip, bad);
    const bytes = entries.reduce((sum, e) => sum + e.uncompressedSize, 0);
    if (bytes > limits.maxBytes) throw bad(`it unpacks to ${bytes} bytes, more than the ${limits.maxBytes} allowed`);
    const root = await realpath(dest);
    for (const entry of entries) await extractEntry(zip, entry, root, bad);
    return entries.length;
  } catch (error) {
    if (isCicdError(error)) throw error;
    throw bad((error as Error).message);
  } finally {
    zip.close();
  }
}

/** Every entry of the central directory (no file data is read yet). */
async function readDirectory(zip: ZipFile, bad: (why: string) => Error): Promise<Entry[]> {
  const entries: Entry[] = [];
  for await (const entry of zip.eachEntry()) {
    if (entry.isEncrypted()) throw bad(`${nameOf(entry)} is encrypted`);
    if (!entry.canDecodeFileData()) throw bad(`${nameOf(entry)} uses compression method ${entry.compressionMethod}; only stored and deflate are supported`);
    entries.push(entry);
  }
  return entries;
}

async function extractEntry(zip: ZipFile, entry: Entry, root: string, bad: (why: string) => Error): Promise<void> {
  const name = nameOf(entry);
  const rel = assertRelativePath("zip entry", name);
  if (!rel) return;
  const target = path.join(root, rel);
  await mkdir(path.dirname(target), { recursive: true });
  // A previous entry may have been a symlink; never write through one to the outside.
  if (!isInside(root, await realpath(path.dirname(target)))) throw errors.unsafePath("zip entry", name, "it resolves outside the workspace");
  if (name.endsWith("/")) {
    await mkdir(target, { recursive: true });
    return;
  }
  const mode = unixMode(entry);
  if (mode !== undefined && (mode & 0o170000) === 0o120000) {
    if (entry.uncompressedSize > MAX_LINK_BYTES) throw bad(`${name} is a symlink of ${entry.uncompressedSize} bytes`);
    const link = (await readAll(await zip.openReadStreamPromise(entry))).toString("utf8");
    const resolved = path.resolve(path.dirname(target), link);
    if (path.isAbsolute(link) || !isInside(root, resolved)) throw errors.unsafePath("zip entry", name, "it is a symlink pointing outside the workspace");
    await symlink(link, target);
    return;
  }
  let crc = 0;
  const check = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      crc = crc32(chunk, crc);
      done(null, chunk);
    },
  });
  try {
    await pipeline(await zip.openReadStreamPromise(entry), check, createWriteStream(target, { mode: 0o644 }));
  } catch (error) {
    throw bad(`${name} could not be inflated: ${(error as Error).message}`);
  }
  // yauzl checks sizes, not CRCs.
  if ((crc >>> 0) !== entry.crc32) throw bad(`${name} fails its CRC check`);
  if (mode !== undefined && mode & 0o777) await chmod(target, mode & 0o777);
}

/** The entry's name as zip(1) meant it (UTF-8 or CP437, Info-ZIP's Unicode path), `\` as `/`. */
function nameOf(entry: Entry): string {
  return yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, false);
}

/** Unix mode from the external attributes, when the archive was made on Unix. */
function unixMode(entry: Entry): number | undefined {
  const mode = entry.externalFileAttributes >>> 16;
  return entry.versionMadeBy >> 8 === 3 && mode ? mode : undefined;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}
