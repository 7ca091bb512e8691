import { writeFile } from "node:fs/promises";
import { crc32, deflateRawSync } from "node:zlib";

export interface ZipEntry {
  name: string;
  content?: string;
  /** Unix mode bits including the type (0o100755 a script, 0o120777 a symlink). */
  mode?: number;
  /** Store uncompressed instead of deflating. */
  store?: boolean;
  /** Size to declare instead of the true one (a lying header, a zip bomb's claim). */
  declaredSize?: number;
}

/**
 * Writes a .zip as zip(1) would (made on Unix, deflate or stored), so tests can also make
 * archives that zip(1) refuses to: names with `..`, symlinks pointing out.
 */
export async function writeZip(file: string, entries: ZipEntry[]): Promise<void> {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, "utf8");
    const raw = Buffer.from(entry.content ?? "", "utf8");
    const method = entry.store || entry.name.endsWith("/") ? 0 : 8;
    const data = method === 8 ? deflateRawSync(raw) : raw;
    const crc = crc32(raw);
    const mode = entry.mode ?? (entry.name.endsWith("/") ? 0o40755 : 0o100644);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x800, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(entry.declaredSize ?? raw.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(entry.declaredSize ?? raw.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE((mode << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, data);
    centrals.push(central, name);
    offset += local.length + name.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  await writeFile(file, Buffer.concat([...locals, directory, end]));
}
