import { createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable, Transform } from "node:stream";
import { CicdApiError, type ArtifactStream } from "../client/index.js";
import { CommandError } from "./command-error.js";
import { parse, type Command, type CommandContext } from "./context.js";
import { knownTargets } from "./known-targets.js";
import { bytes, write } from "./output.js";

const usage = `Usage: cicd download TARGET [--key KEY] [-o DIR]

Downloads the files of the target's newest good build (or of build KEY, also a pull
request's) into DIR (default: the current folder) and prints each file's path.`;

/** `cicd download TARGET [--key KEY] [-o DIR]`. */
export const download: Command = {
  usage,
  async run(context, args) {
    const { values, positionals } = parse(args, { key: { type: "string" }, output: { type: "string", short: "o" } }, ["TARGET"], usage);
    const target = positionals[0]!;
    const dir = path.resolve(values.output ?? ".");
    const document = await knownTargets(context, () => context.client.getArtifacts(target));
    let key: string;
    let files: string[];
    let open: (file: string) => Promise<ArtifactStream>;
    const record = values.key === undefined ? document.builds.findLast((b) => b.status === "good") : document.builds.find((b) => b.key === values.key);
    if (record) {
      key = record.key;
      files = record.artifacts;
      open = (file) => context.client.openArtifact(target, file);
    } else if (values.key !== undefined) {
      // Not in builds.json: a pull request's build (kept by key only), or no build of this target.
      const build = await context.client.getBuild(values.key).catch((error: unknown) => {
        if (error instanceof CicdApiError && error.status === 404) throw new CommandError(`No build "${values.key}" (see cicd builds --target ${target}).`);
        throw error;
      });
      if (build.target !== target) throw new CommandError(`Build ${build.key} is a build of ${build.target}, not ${target}.`);
      key = build.key;
      files = (await context.client.getBuildArtifacts(key)).map((a) => a.name);
      open = (file) => context.client.openBuildArtifact(key, file);
    } else {
      throw new CommandError(`${target} has no good build yet (cicd artifacts ${target} lists its builds).`);
    }
    if (files.length === 0) throw new CommandError(`Build ${key} has no files to download.`);
    await mkdir(dir, { recursive: true });
    for (const file of files) {
      // The name comes from the server: it names a file inside DIR, never a path elsewhere.
      if (file !== path.basename(file) || file === "." || file === "..") throw new CommandError(`The server named an artifact "${file}", which is not a plain file name; not written.`);
      const destination = path.join(dir, file);
      await save(context, await open(file), file, destination);
      await write(context.stdout, `${destination}\n`);
    }
    return 0;
  },
};

/** Writes the download to `<file>.part`, then renames it: a broken download never looks whole. */
async function save(context: CommandContext, stream: ArtifactStream, name: string, destination: string): Promise<void> {
  const partial = `${destination}.part`;
  const progress = context.stderr.isTTY ? new Progress(context.stderr, name, stream.size) : undefined;
  let received = 0;
  const count = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      received += chunk.length;
      progress?.update(received);
      done(null, chunk);
    },
  });
  try {
    await pipeline(Readable.from(stream.body), count, createWriteStream(partial, { mode: 0o644 }));
    if (stream.size !== undefined && received !== stream.size) throw new CommandError(`The download of ${name} ended after ${received} of ${stream.size} bytes; run the command again.`);
    await rename(partial, destination);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  } finally {
    progress?.done(received);
  }
}

/** One line on the terminal, redrawn at most 10 times a second: name, percent, bytes. */
class Progress {
  private last = 0;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly name: string,
    private readonly size: number | undefined,
  ) {}

  update(received: number): void {
    const now = Date.now();
    if (now - this.last < 100) return;
    this.last = now;
    this.draw(received);
  }

  done(received: number): void {
    this.draw(received);
    this.stream.write("\n");
  }

  private draw(received: number): void {
    const percent = this.size ? `${Math.floor((received / this.size) * 100)}%`.padStart(4) : "";
    const of = this.size === undefined ? bytes(received) : `${bytes(received)} / ${bytes(this.size)}`;
    this.stream.write(`\r\x1b[K${this.name} ${percent} ${of}`);
  }
}
