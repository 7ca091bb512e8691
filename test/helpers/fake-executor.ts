import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Executor, ExitInfo, FoundWorkload, WorkloadHandle, WorkloadSpec } from "../../src/executor/types.js";
import { buildRequestSchema, type BuilderEvent, type BuildRequest } from "../../src/shared/protocol.js";
import { uploadArtifacts } from "../../src/builder/upload-artifacts.js";

/**
 * A scriptable executor for fast scenario tests of the manager (the idea of Woodpecker's dummy
 * backend). Each workload is an in-process builder that speaks the real protocol over HTTP:
 * it announces `ready`, answers `POST /build`, and runs the request's commands as a script:
 *   `sleep MS`, `echo TEXT`, `exit N`, `oom` (exits as if OOM-killed), `busy` (answers 409 once),
 *   `gate NAME` (while the test has closed it with `closeGate`, waits until `openGate`: a build
 *   that runs until the test says, where a fixed sleep would guess how slow the machine is),
 *   `forge` (reports success naming a file it never sent, as a build that stole the token would).
 * On success it sends `artifact.txt` to the manager like the real builder (the real upload code).
 */
/** Closed gates of `gate NAME` commands, by name (a gate is open until the test closes it). */
const closedGates = new Map<string, { opened: Promise<void>; open: () => void }>();
/** Builds that reach `gate NAME` from now on wait there until `openGate(NAME)`. */
export function closeGate(name: string): void {
  if (closedGates.has(name)) return;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  closedGates.set(name, { opened, open });
}
/** Lets the builds waiting at `gate NAME` go on, and those that reach it later pass. */
export function openGate(name: string): void {
  closedGates.get(name)?.open();
  closedGates.delete(name);
}

export class FakeExecutor implements Executor {
  readonly name = "fake";
  readonly sharesDisk = true;
  readonly reachesWorkloads = true;
  /** Like the docker executor, so untrusted builds run (tests set it false to see them refused). */
  isolated = true;
  /** In-process workloads end with the test's manager, like host processes. */
  readonly outlivesManager = false;
  readonly managerHost = "127.0.0.1";
  readonly started: WorkloadSpec[] = [];
  readonly handles = new Map<string, FakeWorkload>();
  /** The next workloads started answer busy once before accepting. */
  busyOnce = 0;

  async check(): Promise<string> {
    return "in-process builders";
  }

  /** While set, prepareImage waits for it (an image whose first build takes long). */
  imageReady?: Promise<void>;

  async prepareImage(): Promise<void> {
    await this.imageReady;
  }

  async start(spec: WorkloadSpec): Promise<WorkloadHandle> {
    this.started.push(spec);
    const busy = this.busyOnce > 0;
    if (busy) this.busyOnce -= 1;
    const workload = new FakeWorkload(spec, busy);
    this.handles.set(spec.id, workload);
    await workload.listen();
    return workload;
  }

  async find(): Promise<FoundWorkload[]> {
    return [...this.handles.values()].map((w) => ({ id: w.id, role: w.spec.role, target: w.spec.target, buildKey: w.spec.buildKey, running: !w.exited }));
  }

  async attach(id: string): Promise<WorkloadHandle | undefined> {
    return this.handles.get(id);
  }

  async close(): Promise<void> {
    await Promise.all([...this.handles.values()].map((w) => w.destroy()));
  }
}

class FakeWorkload implements WorkloadHandle {
  readonly address = "127.0.0.1";
  exited?: ExitInfo;
  destroyed = false;
  private server: Server;
  private chunks: ((chunk: string) => void)[] = [];
  private exitWaiters: ((info: ExitInfo) => void)[] = [];
  private stopController = new AbortController();

  constructor(readonly spec: WorkloadSpec, private busy: boolean) {
    this.server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        if (this.busy) {
          this.busy = false;
          res.writeHead(409, { "content-type": "application/json" }).end(JSON.stringify({ status: "busy", key: "someone-else" }));
          void this.exit({ exitCode: 0, oomKilled: false });
          return;
        }
        const request = buildRequestSchema.parse(JSON.parse(body));
        res.writeHead(202, { "content-type": "application/json" }).end(JSON.stringify({ status: "accepted", key: request.key }));
        void this.run(request);
      });
    });
  }

  get id(): string {
    return this.spec.id;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    await this.broadcast({ type: "ready", builderId: this.id, at: new Date().toISOString(), port: (this.server.address() as AddressInfo).port });
  }

  output(onChunk: (chunk: string) => void): Promise<void> {
    this.chunks.push(onChunk);
    return new Promise((resolve) => this.exitWaiters.push(() => resolve()));
  }

  wait(signal?: AbortSignal): Promise<ExitInfo> {
    if (this.exited) return Promise.resolve(this.exited);
    return new Promise((resolve, reject) => {
      this.exitWaiters.push(resolve);
      signal?.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
    });
  }

  async stop(): Promise<void> {
    this.stopController.abort();
    await this.exit({ exitCode: 143, oomKilled: false, signal: "SIGTERM" });
  }

  async destroy(): Promise<void> {
    this.destroyed = true;
    this.stopController.abort();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await this.exit({ exitCode: 137, oomKilled: false, signal: "SIGKILL" });
  }

  private async run(request: BuildRequest): Promise<void> {
    const started = Date.now();
    await this.broadcast({ type: "started", builderId: this.id, at: new Date().toISOString(), key: request.key });
    for (const [index, command] of request.commands.entries()) {
      const [verb, ...rest] = command.split(" ");
      const arg = rest.join(" ");
      if (this.stopController.signal.aborted) return;
      if (verb === "sleep") await new Promise((r) => setTimeout(r, Number(arg)));
      else if (verb === "gate") await Promise.race([closedGates.get(arg)?.opened, new Promise((r) => this.stopController.signal.addEventListener("abort", r, { once: true }))]);
      else if (verb === "echo") this.say(`${arg.replace("$SECRET", request.env?.SECRET ?? "")}\n`);
      else if (verb === "oom") return void (await this.exit({ exitCode: 137, oomKilled: true }));
      else if (verb === "forge") {
        const uploads = [{ name: "app.jar", size: 4, sha256: "0".repeat(64) }];
        await this.broadcast({ type: "success", builderId: this.id, at: new Date().toISOString(), key: request.key, exitCode: 0, durationMs: 1, commit: "c".repeat(40), artifacts: ["app.jar"], uploads });
        return void (await this.exit({ exitCode: 1, oomKilled: false }));
      }
      else if (verb === "exit" && Number(arg) !== 0) {
        await this.broadcast({ type: "failure", builderId: this.id, at: new Date().toISOString(), key: request.key, exitCode: Number(arg), durationMs: Date.now() - started, commit: null, reason: `command ${index + 1} failed with exit code ${arg}`, failedCommand: index, code: "COMMAND_FAILED" });
        return void (await this.exit({ exitCode: 1, oomKilled: false }));
      }
    }
    if (this.stopController.signal.aborted) return;
    const work = mkdtempSync(path.join(tmpdir(), "cicd-fake-"));
    writeFileSync(path.join(work, "artifact.txt"), `built ${request.key}\n`);
    const uploads = await uploadArtifacts([path.join(work, "artifact.txt")], { managerUrl: this.spec.env.CICD_MANAGER_URL!, token: this.spec.env.CICD_MANAGER_TOKEN!, builderId: this.id, giveUpAfterMs: 5_000 });
    await this.broadcast({ type: "success", builderId: this.id, at: new Date().toISOString(), key: request.key, exitCode: 0, durationMs: Date.now() - started, commit: null, artifacts: uploads.map((u) => u.name), sizes: Object.fromEntries(uploads.map((u) => [u.name, u.size])), uploads });
    await this.exit({ exitCode: 0, oomKilled: false });
  }

  private say(text: string): void {
    for (const c of this.chunks) c(text);
  }

  private async exit(info: ExitInfo): Promise<void> {
    if (this.exited) return;
    this.exited = info;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const w of this.exitWaiters.splice(0)) w(info);
  }

  private async broadcast(event: BuilderEvent): Promise<void> {
    await fetch(this.spec.env.CICD_MANAGER_URL!, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${this.spec.env.CICD_MANAGER_TOKEN}` },
      body: JSON.stringify(event),
    }).catch(() => undefined);
  }
}
