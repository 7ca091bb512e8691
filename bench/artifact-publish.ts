// How a good build's large artifact reaches the service file system, two ways:
//  - direct: the standalone builder's way, ServiceFs.publish copying the file in (fsync, link);
//  - upload: a manager-run builder's way, uploadArtifacts streaming it over HTTP on 127.0.0.1
//    to the manager's ArtifactInbox (SHA-256 while it streams, fsync), then the manager
//    verifying it and publishing it with a rename.
// Same file, same disk, taken in turns; prints the median of each and the CPU time.
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { uploadArtifacts } from "../src/builder/upload-artifacts.js";
import { ArtifactInbox } from "../src/manager/artifact-inbox.js";
import { ServiceFs } from "../src/servicefs/service-fs.js";
import { median } from "./stats.js";

export interface PublishBenchOptions {
  dir: string;
  /** Artifact size in MiB. */
  sizeMiB: number;
  rounds: number;
}

export interface PublishBenchResult {
  sizeMiB: number;
  directMs: number;
  uploadMs: number;
  directCpuMs: number;
  uploadCpuMs: number;
}

export async function runPublishBench(o: PublishBenchOptions): Promise<PublishBenchResult> {
  mkdirSync(o.dir, { recursive: true });
  const file = path.join(o.dir, "app.bin");
  await writeRandom(file, o.sizeMiB);
  const inbox = new ArtifactInbox(path.join(o.dir, "incoming"));
  const servicefs = new ServiceFs(path.join(o.dir, "servicefs"));
  let key = "";
  const server = createServer((req, res) => {
    const index = Number(/artifacts\/(\d+)/.exec(req.url ?? "")?.[1]);
    inbox.receive(key, index, "app.bin", String(req.headers["x-cicd-sha256"]), req, Number(req.headers["content-length"])).then(
      () => res.writeHead(201).end(),
      (error: unknown) => res.writeHead(422).end(String(error)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/internal/builders/events`;
  const direct: number[] = [];
  const upload: number[] = [];
  const directCpu: number[] = [];
  const uploadCpu: number[] = [];
  try {
    for (let round = 0; round < o.rounds; round++) {
      let t = performance.now();
      let cpu = process.cpuUsage();
      await servicefs.publish("direct", { key: `direct-${round}-${randomBytes(3).toString("hex")}`, commit: null, ref: null, files: [file] });
      direct.push(performance.now() - t);
      directCpu.push(cpuMs(process.cpuUsage(cpu)));

      key = `upload-${round}-${randomBytes(3).toString("hex")}`;
      t = performance.now();
      cpu = process.cpuUsage();
      const uploads = await uploadArtifacts([file], { managerUrl: url, token: "bench", builderId: "bench" });
      const files = await inbox.verify(key, uploads);
      await servicefs.publish("upload", { key, commit: null, ref: null, files, move: true });
      await inbox.discard(key);
      upload.push(performance.now() - t);
      uploadCpu.push(cpuMs(process.cpuUsage(cpu)));
      rmSync(path.join(o.dir, "servicefs"), { recursive: true, force: true });
    }
  } finally {
    server.close();
  }
  return { sizeMiB: o.sizeMiB, directMs: median(direct), uploadMs: median(upload), directCpuMs: median(directCpu), uploadCpuMs: median(uploadCpu) };
}

export function describePublish(r: PublishBenchResult): string[] {
  const rate = (ms: number) => `${((r.sizeMiB / ms) * 1000).toFixed(0)} MiB/s`;
  return [
    `publish ${r.sizeMiB} MiB direct (copy into servicefs):   ${r.directMs.toFixed(0)} ms (${rate(r.directMs)}), CPU ${r.directCpuMs.toFixed(0)} ms`,
    `publish ${r.sizeMiB} MiB by upload (HTTP, SHA-256, move): ${r.uploadMs.toFixed(0)} ms (${rate(r.uploadMs)}), CPU ${r.uploadCpuMs.toFixed(0)} ms (both ends, one process)`,
    `upload / direct: ${(r.uploadMs / r.directMs).toFixed(2)}`,
  ];
}

function cpuMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000;
}

async function writeRandom(file: string, mib: number): Promise<void> {
  const out = createWriteStream(file);
  const chunk = randomBytes(1024 * 1024);
  for (let i = 0; i < mib; i++) {
    // Each MiB differs, so nothing along the way can shortcut repeated data.
    const block = Buffer.from(chunk);
    block.writeUInt32LE(i, 0);
    if (!out.write(block)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
}
