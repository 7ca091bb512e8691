import { createReadStream, createWriteStream } from "node:fs";
import { chmod, mkdir, open, realpath, symlink, writeFile, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { crc32, createInflateRaw, inflateRawSync } from "node:zlib";
import { errors } from "../shared/errors.js";
import { assertRelativePath, isInside } from "../shared/safe-path.js";

interface Entry {
  name: string;
  method: number;
  flags: number;
  crc: number;
  compressedSize: number;
  localOffset: number;
  /** Unix mode from the external attributes, when the archive was made on Unix. */
  mode?: number;
}

/**
 * Extracts a .zip into `dest` with nothing but node:zlib (no unzip binary needed in the image
 * or on the host). Entries must stay inside `dest`: absolute names, `..`, symlinks pointing
 * out, and writing through a symlink are refused with UNSAFE_PATH. Stored and deflated entries
 * are supported, CRCs are checked, Unix modes (e.g. the x bit of build.sh) are kept.
 * Encrypted and ZIP64 archives are refused with a clear message.
 */
export async function unzip(file: string, dest: string): Promise<number> {
  const bad = (why: string) => errors.sourceFetchFailed(path.basename(file), `not a usable .zip archive: ${why}`);
  const handle = await open(file, "r");
  let entries: Entry[];
  try {
    entries = await readDirectory(handle, bad);
    const root = await realpath(dest);
    for (const entry of entries) {
      const rel = assertRelativePath("zip entry", entry.name.replace(/\\/g, "/"));
      if (!rel) continue;
      const target = path.join(root, rel);
      await mkdir(path.dirname(target), { recursive: true });
      // A previous entry may have been a symlink; never write through one to the outside.
      if (!isInside(root, await realpath(path.dirname(target)))) throw errors.unsafePath("zip entry", entry.name, "it resolves outside the workspace");
      if (entry.name.endsWith("/")) {
        await mkdir(target, { recursive: true });
        continue;
      }
      if (entry.flags & 1) throw bad(`${entry.name} is encrypted`);
      if (entry.method !== 0 && entry.method !== 8) throw bad(`${entry.name} uses compression method ${entry.method}; only stored and deflate are supported`);
      const start = await dataOffset(handle, entry, bad);
      if (entry.mode !== undefined && (entry.mode & 0o170000) === 0o120000) {
        const link = await readAll(handle, start, entry.compressedSize, entry.method);
        const resolved = path.resolve(path.dirname(target), link);
        if (path.isAbsolute(link) || !isInside(root, resolved)) throw errors.unsafePath("zip entry", entry.name, "it is a symlink pointing outside the workspace");
        await symlink(link, target);
        continue;
      }
      await extractEntry(file, entry, start, target, bad);
      if (entry.mode !== undefined && entry.mode & 0o777) await chmod(target, entry.mode & 0o777);
    }
  } finally {
    await handle.close();
  }
  return entries.length;
}

async function readDirectory(handle: FileHandle, bad: (why: string) => Error): Promise<Entry[]> {
  const { size } = await handle.stat();
  const tailSize = Math.min(size, 65_557);
  const tail = await readAt(handle, size - tailSize, tailSize);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) if (tail.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  if (eocd < 0) throw bad("no end of central directory; is it a zip file?");
  const count = tail.readUInt16LE(eocd + 10);
  const dirSize = tail.readUInt32LE(eocd + 12);
  const dirOffset = tail.readUInt32LE(eocd + 16);
  if (count === 0xffff || dirOffset === 0xffffffff) throw bad("ZIP64 archives are not supported; use .tar.gz for very large sources");
  if (dirOffset + dirSize > size) throw bad("the central directory lies outside the file");
  const dir = await readAt(handle, dirOffset, dirSize);
  const entries: Entry[] = [];
  for (let p = 0, i = 0; i < count; i++) {
    if (p + 46 > dir.length || dir.readUInt32LE(p) !== 0x02014b50) throw bad("damaged central directory");
    const nameLength = dir.readUInt16LE(p + 28);
    const skip = nameLength + dir.readUInt16LE(p + 30) + dir.readUInt16LE(p + 32);
    const madeOnUnix = dir.readUInt8(p + 5) === 3;
    const external = dir.readUInt32LE(p + 38);
    entries.push({
      flags: dir.readUInt16LE(p + 8),
      method: dir.readUInt16LE(p + 10),
      crc: dir.readUInt32LE(p + 16),
      compressedSize: dir.readUInt32LE(p + 20),
      localOffset: dir.readUInt32LE(p + 42),
      name: dir.toString("utf8", p + 46, p + 46 + nameLength),
      ...(madeOnUnix && external >>> 16 ? { mode: external >>> 16 } : {}),
    });
    p += 46 + skip;
  }
  return entries;
}

async function dataOffset(handle: FileHandle, entry: Entry, bad: (why: string) => Error): Promise<number> {
  const header = await readAt(handle, entry.localOffset, 30);
  if (header.length < 30 || header.readUInt32LE(0) !== 0x04034b50) throw bad(`damaged local header of ${entry.name}`);
  return entry.localOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
}

async function extractEntry(file: string, entry: Entry, start: number, target: string, bad: (why: string) => Error): Promise<void> {
  let crc = 0;
  const check = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      crc = crc32(chunk, crc);
      done(null, chunk);
    },
  });
  if (!entry.compressedSize) {
    await writeFile(target, "", { mode: 0o644 });
  }
  try {
    if (entry.compressedSize) {
      const input = createReadStream(file, { start, end: start + entry.compressedSize - 1 });
      const output = createWriteStream(target, { mode: 0o644 });
      if (entry.method === 8) await pipeline(input, createInflateRaw(), check, output);
      else await pipeline(input, check, output);
    }
  } catch (error) {
    throw bad(`${entry.name} could not be inflated: ${(error as Error).message}`);
  }
  if ((crc >>> 0) !== entry.crc) throw bad(`${entry.name} fails its CRC check`);
}

async function readAll(handle: FileHandle, start: number, length: number, method: number): Promise<string> {
  const raw = await readAt(handle, start, length);
  return (method === 8 ? inflateRawSync(raw) : raw).toString("utf8");
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  return buffer.subarray(0, bytesRead);
}
