import { readdir, readFile } from "node:fs/promises";
import path from "node:path";

/**
 * A tar archive (the `docker build` context) holding exactly `files` (paths relative to
 * `root`; folders are walked). Written by hand so the context is what we choose: the
 * Dockerfile plus docker/build/, whatever `.dockerignore` rules a packer would apply.
 */
export async function buildContext(root: string, files: string[]): Promise<Buffer> {
  const blocks: Buffer[] = [];
  for (const file of await expand(root, files)) {
    const data = await readFile(path.join(root, file));
    blocks.push(header(file.split(path.sep).join("/"), data.length), data, Buffer.alloc(pad(data.length)));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

async function expand(root: string, files: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const file of files) {
    const entries = await readdir(path.join(root, file), { withFileTypes: true }).catch(() => undefined);
    if (!entries) out.push(file);
    else for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.isFile() || entry.isDirectory()) out.push(...(await expand(root, [path.join(file, entry.name)])));
    }
  }
  return out;
}

const pad = (size: number) => (512 - (size % 512)) % 512;

/** A ustar header for a regular file. mtime 0 keeps the context, and Docker's cache, stable. */
function header(name: string, size: number): Buffer {
  const block = Buffer.alloc(512);
  const put = (text: string, offset: number, length: number) => block.write(text, offset, length, "utf8");
  const octal = (value: number, length: number) => value.toString(8).padStart(length - 1, "0");
  let prefix = "";
  let base = name;
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf("/", 155);
    prefix = name.slice(0, cut);
    base = name.slice(cut + 1);
  }
  put(base, 0, 100);
  put(octal(0o644, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(size, 12), 124, 12);
  put(octal(0, 12), 136, 12);
  put("        ", 148, 8);
  put("0", 156, 1);
  put("ustar\u000000", 257, 8);
  put(prefix, 345, 155);
  const sum = block.reduce((total, byte) => total + byte, 0);
  put(`${octal(sum, 7)}\u0000 `, 148, 8);
  return block;
}
