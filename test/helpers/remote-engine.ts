import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, copyFile, mkdir, mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePort } from "./free-port.js";

const run = promisify(execFile);

/**
 * A second Docker engine, started by a test as a child `dockerd`, that answers over TCP with
 * mutual TLS on 127.0.0.1, like a remote engine would. It has its own data root, exec root,
 * unix socket, bridge and subnet, so several can run next to the machine's main engine and
 * next to each other (parallel test files).
 */
export interface RemoteEngine {
  /** tcp://127.0.0.1:PORT */
  readonly host: string;
  readonly port: number;
  /** Client credentials as DOCKER_CERT_PATH expects them: ca.pem, cert.pem, key.pem. */
  readonly certDir: string;
  /** certDir/ca.pem: the CA that signed the engine's server certificate and the client's. */
  readonly ca: string;
  /** certDir/cert.pem: a client certificate (extendedKeyUsage clientAuth) the engine accepts. */
  readonly cert: string;
  /** certDir/key.pem */
  readonly key: string;
  /**
   * Like certDir (its ca.pem is the right CA, so the client trusts the engine) but cert.pem and
   * key.pem are a client certificate signed by another CA: the engine refuses it in the TLS
   * handshake ("remote error: tls: bad certificate").
   */
  readonly wrongCertDir: string;
  /** The engine's own unix socket (no TLS), for set-up such as loading images. */
  readonly socket: string;
  /**
   * The bridge of the engine's default network and its subnet (172.31.N.0/24, or 10.231.N.0/24
   * when 172.31 is taken). Networks
   * created on the engine get subnets from Docker's default pools that no host route uses.
   */
  readonly bridge: string;
  readonly subnet: string;
  /**
   * The host as containers of this engine reach it (the bridge's address): a server the test
   * starts on 0.0.0.0 answers there.
   */
  readonly gatewayIp: string;
  /** overlay2, or vfs where overlay2 does not work on the data root. */
  readonly storageDriver: string;
  /** The engine's log (stdout and stderr of every start). */
  readonly logFile: string;
  /** `docker` CLI arguments that reach the engine over TLS: ["--host", host, "--tlsverify", ...]. */
  readonly cliArgs: string[];
  /** Environment for a Docker client: DOCKER_HOST, DOCKER_TLS_VERIFY=1, DOCKER_CERT_PATH. */
  readonly env: Record<string, string>;
  /** How long start-up took, in ms: certificates and bridge, dockerd until it answered, images. */
  readonly timings: { setupMs: number; dockerdMs: number; imagesMs: number };
  /** The running dockerd's pid, undefined while stopped. */
  readonly pid: number | undefined;
  /** Runs the `docker` CLI against this engine over TLS; rejects on a non-zero exit. */
  docker(args: string[], options?: { timeoutMs?: number }): Promise<{ stdout: string; stderr: string }>;
  /** Copies images from the main engine (docker save | docker load); there is no registry. */
  loadImages(images: string[]): Promise<void>;
  /** SIGTERM to dockerd and waits for it to exit; its containers stop, nothing is removed. */
  stop(): Promise<void>;
  /** Starts it again after stop(): same host, certificates, data (containers and images). */
  start(): Promise<void>;
  /** Stops it and removes everything: bridge, firewall rule, certificates, data. Idempotent. */
  close(): Promise<void>;
}

export interface RemoteEngineOptions {
  /**
   * Images to copy from the main engine. Default: the project's base image
   * (CICD_BASE_IMAGE or node:20-bookworm-slim, made by scripts/make-base-image.sh) when the
   * main engine has it; named images that the main engine lacks are an error.
   */
  images?: string[];
  /** How long to wait for dockerd to answer on each start (default 60 s). */
  startTimeoutMs?: number;
}

const BASE_IMAGE = process.env.CICD_BASE_IMAGE ?? "node:20-bookworm-slim";

/** What is missing for startRemoteEngine on this machine, or undefined when it can run. */
export async function remoteEngineUnavailable(): Promise<string | undefined> {
  const missing: string[] = [];
  if (typeof process.getuid !== "function" || process.getuid() !== 0) missing.push("root (dockerd, ip link and iptables need it)");
  for (const tool of ["dockerd", "docker", "openssl", "ip"]) {
    if (!(await which(tool))) missing.push(`the \`${tool}\` command`);
  }
  return missing.length ? `A second Docker engine cannot be started here: missing ${missing.join(", ")}.` : undefined;
}

/** Starts a second Docker engine over TLS; call close() in afterAll. */
export async function startRemoteEngine(options: RemoteEngineOptions = {}): Promise<RemoteEngine> {
  const unavailable = await remoteEngineUnavailable();
  if (unavailable) throw new Error(unavailable);
  const engine = new Engine(options.startTimeoutMs ?? 60_000);
  try {
    await engine.create();
    const started = Date.now();
    let images = options.images;
    if (!images) images = (await imageExists(BASE_IMAGE)) ? [BASE_IMAGE] : [];
    await engine.loadImages(images);
    engine.timings.imagesMs = Date.now() - started;
  } catch (error) {
    await engine.close().catch(() => undefined);
    throw error;
  }
  return engine;
}

class Engine implements RemoteEngine {
  readonly id = randomBytes(3).toString("hex");
  root = "";
  host = "";
  port = 0;
  certDir = "";
  ca = "";
  cert = "";
  key = "";
  wrongCertDir = "";
  socket = "";
  bridge = `cicdre-${this.id}`;
  subnet = "";
  gatewayIp = "";
  storageDriver = "overlay2";
  logFile = "";
  timings = { setupMs: 0, dockerdMs: 0, imagesMs: 0 };
  private serverDir = "";
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private bridgeCreated = false;
  private forwardRule: string[] | undefined;
  private closed = false;

  constructor(private readonly startTimeoutMs: number) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get cliArgs(): string[] {
    return ["--host", this.host, "--tlsverify", "--tlscacert", this.ca, "--tlscert", this.cert, "--tlskey", this.key];
  }

  get env(): Record<string, string> {
    return { DOCKER_HOST: this.host, DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: this.certDir };
  }

  async create(): Promise<void> {
    // Short paths: containerd puts unix sockets under the exec root (108-byte limit).
    this.root = await mkdtemp(path.join(tmpdir(), `cicd-re-${this.id}-`));
    this.certDir = path.join(this.root, "client");
    this.wrongCertDir = path.join(this.root, "wrong-client");
    this.serverDir = path.join(this.root, "server");
    this.ca = path.join(this.certDir, "ca.pem");
    this.cert = path.join(this.certDir, "cert.pem");
    this.key = path.join(this.certDir, "key.pem");
    this.socket = path.join(this.root, "docker.sock");
    this.logFile = path.join(this.root, "dockerd.log");
    const setup = Date.now();
    await Promise.all([makeCertificates(this.root, this.serverDir, this.certDir, this.wrongCertDir), this.createBridge()]);
    await this.allowForwarding();
    this.timings.setupMs = Date.now() - setup;

    // The port is free when chosen but could be taken before dockerd binds it: retry then.
    for (let attempt = 1; ; attempt++) {
      this.port = await freePort();
      this.host = `tcp://127.0.0.1:${this.port}`;
      try {
        const started = Date.now();
        await this.start();
        this.timings.dockerdMs = Date.now() - started;
        return;
      } catch (error) {
        const log = await this.readLog();
        if (attempt < 3 && /address already in use/i.test(log)) continue;
        // overlay2 may not work on a nested data root (e.g. a data root on overlayfs): use vfs.
        if (this.storageDriver === "overlay2" && /error initializing graphdriver|driver not supported/i.test(lastLines(log, 15))) {
          this.storageDriver = "vfs";
          await rm(path.join(this.root, "data"), { recursive: true, force: true });
          continue;
        }
        throw error;
      }
    }
  }

  private dockerdArgs(): string[] {
    return [
      "--data-root", path.join(this.root, "data"),
      "--exec-root", path.join(this.root, "x"),
      "--pidfile", path.join(this.root, "dockerd.pid"),
      "--host", `unix://${this.socket}`,
      "--host", this.host,
      "--tlsverify",
      "--tlscacert", path.join(this.serverDir, "ca.pem"),
      "--tlscert", path.join(this.serverDir, "server-cert.pem"),
      "--tlskey", path.join(this.serverDir, "server-key.pem"),
      "--bridge", this.bridge,
      "--storage-driver", this.storageDriver,
      // The main engine owns the DOCKER* iptables chains (and the FORWARD DROP policy); a
      // second engine managing the same chains would rewrite them under the main engine.
      // Containers still reach the host at gatewayIp (INPUT), and published ports work
      // through docker-proxy; they just get no NAT to the outside world.
      "--iptables=false",
      "--ip-masq=false",
      "--ip6tables=false",
      // Its own containerd namespace, in case it shares a system containerd with the main engine.
      "--containerd-namespace", `cicd-re-${this.id}`,
      "--containerd-plugins-namespace", `cicd-re-${this.id}-plugins`,
      // No --default-address-pool: with one set, dockerd 20.10 deletes the link named docker0
      // (the main engine's bridge) when it restarts over an existing data root. Networks
      // created on this engine get a subnet no host route uses (it skips the main engine's).
      "--shutdown-timeout", "3",
    ];
  }

  async start(): Promise<void> {
    if (this.closed) throw new Error("remote engine: start() after close()");
    if (this.child) return;
    const log = await open(this.logFile, "a");
    let child: ChildProcess;
    try {
      await log.write(`\n=== cicd: starting dockerd ${new Date().toISOString()} ===\n`);
      // Its own process group, so a dockerd that ignores SIGTERM can be killed with its containerd.
      child = spawn("dockerd", this.dockerdArgs(), { stdio: ["ignore", log.fd, log.fd], detached: true });
    } finally {
      await log.close();
    }
    this.child = child;
    this.exited = new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.once("error", () => resolve());
    });
    void this.exited.then(() => {
      if (this.child === child) this.child = undefined;
    });
    // The test process ends when its tests do; close() takes care of the engine.
    child.unref();
    try {
      await this.waitUntilAnswers(child);
    } catch (error) {
      await this.stop().catch(() => undefined);
      throw error;
    }
  }

  private async waitUntilAnswers(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + this.startTimeoutMs;
    let gone = false;
    void this.exited!.then(() => (gone = true));
    let lastError = "";
    while (Date.now() < deadline) {
      if (gone) {
        throw new Error(`remote engine: dockerd exited during start-up (code ${child.exitCode ?? child.signalCode}); its log:\n${lastLines(await this.readLog(), 40)}`);
      }
      try {
        // Over TCP with TLS, as the tests will use it.
        await this.docker(["version", "--format", "{{.Server.Version}}"], { timeoutMs: 10_000 });
        return;
      } catch (error) {
        lastError = String((error as Error).message).trim();
      }
      await sleep(200);
    }
    throw new Error(
      `remote engine: dockerd did not answer on ${this.host} within ${this.startTimeoutMs} ms (last error: ${lastError}); its log:\n${lastLines(await this.readLog(), 40)}`,
    );
  }

  async docker(args: string[], options: { timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string }> {
    return run("docker", [...this.cliArgs, ...args], { timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 });
  }

  async loadImages(images: string[]): Promise<void> {
    for (const image of images) {
      if (!(await imageExists(image))) {
        throw new Error(`remote engine: image ${image} is not on the main engine (for the base image run scripts/make-base-image.sh)`);
      }
      await pipeImage(image, this.socket);
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.exited) return;
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.exited.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), 60_000))),
    ]);
    clearTimeout(timer);
    if (timedOut && child.pid) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
      await this.exited;
    }
    this.child = undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stop();
    if (this.root) {
      await unmountUnder(this.root);
      // Networks created on this engine leave their bridges (br-<id>) behind when it stops.
      for (const link of await this.networkBridges()) await run("ip", ["link", "del", link]).catch(() => undefined);
    }
    if (this.forwardRule) await run("iptables", ["-D", ...this.forwardRule]).catch(() => undefined);
    if (this.bridgeCreated) await run("ip", ["link", "del", this.bridge]).catch(() => undefined);
    if (this.root) await rm(this.root, { recursive: true, force: true });
  }

  /**
   * The br-<network id> links of networks created on this engine, read from its network store
   * (bolt keeps the networks' JSON as is), so they are found with the engine stopped.
   */
  private async networkBridges(): Promise<string[]> {
    const store = await readFile(path.join(this.root, "data", "network", "files", "local-kv.db")).catch(() => Buffer.alloc(0));
    const names = new Set<string>();
    for (const match of store.toString("latin1").matchAll(/"BridgeName":"(br-[0-9a-f]{12})"/g)) names.add(match[1]!);
    return [...names];
  }

  async readLog(): Promise<string> {
    return readFile(this.logFile, "utf8").catch(() => "");
  }

  /**
   * A bridge with a /24 from 172.31.0.0/16 (or 10.231.0.0/16) that no host interface or route uses. Another
   * instance may pick the same /24 at the same moment: after adding the address, it checks no
   * other interface has one in that /24, and if one does, both back off and pick again.
   */
  private async createBridge(): Promise<void> {
    await run("ip", ["link", "add", this.bridge, "type", "bridge"]);
    this.bridgeCreated = true;
    const seen = new Map<string, number>(); // why a /24 was passed over, and how often
    const passOver = (why: string) => seen.set(why, (seen.get(why) ?? 0) + 1);
    for (let attempt = 0; attempt < 80; attempt++) {
      // 172.31.0.0/16 first; should a network of the moment cover all of it (a /16 from Docker's
      // default pools), 10.231.0.0/16, which neither those pools nor swarm's overlays reach.
      const third = 1 + Math.floor(Math.random() * 254);
      const prefix = `${attempt < 40 ? "172.31" : "10.231"}.${third}.`;
      const taken = await prefixInUse(prefix, this.bridge);
      if (taken) {
        passOver(`in use: ${taken}`);
        continue;
      }
      const address = `${prefix}1/24`;
      try {
        await run("ip", ["addr", "add", address, "dev", this.bridge]);
      } catch (error) {
        passOver(`ip addr add: ${(error as Error).message.split("\n")[0]}`);
        continue;
      }
      await sleep(20 + Math.random() * 30);
      if (await prefixInUse(prefix, this.bridge)) {
        passOver("taken by another engine at the same moment");
        await run("ip", ["addr", "del", address, "dev", this.bridge]).catch(() => undefined);
        await sleep(Math.random() * 100);
        continue;
      }
      await run("ip", ["link", "set", this.bridge, "up"]);
      this.subnet = `${prefix}0/24`;
      this.gatewayIp = `${prefix}1`;
      return;
    }
    const reasons = [...seen].map(([why, n]) => `${n}× ${why}`).join("; ");
    throw new Error(`remote engine: found no free /24 in 172.31.0.0/16 or 10.231.0.0/16 for its bridge (${reasons})`);
  }

  /**
   * With br_netfilter loaded, traffic between two containers on the same bridge passes the
   * FORWARD chain, whose policy the main engine sets to DROP: let this bridge's own traffic
   * through (removed by close()).
   */
  private async allowForwarding(): Promise<void> {
    if (!(await which("iptables"))) return;
    const rule = ["FORWARD", "-i", this.bridge, "-o", this.bridge, "-m", "comment", "--comment", `cicd remote engine ${this.id}`, "-j", "ACCEPT"];
    try {
      await run("iptables", ["-I", ...rule]);
      this.forwardRule = rule;
    } catch {
      // No iptables support: nothing filters the bridge either.
    }
  }
}

async function makeCertificates(root: string, serverDir: string, clientDir: string, wrongDir: string): Promise<void> {
  const work = path.join(root, "pki");
  await Promise.all([work, serverDir, clientDir, wrongDir].map((dir) => mkdir(dir, { recursive: true, mode: 0o700 })));
  // ECDSA P-256 keys: as good as RSA for the engine and the CLI, and generated instantly.
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
  const ssl = (args: string[]) => run("openssl", args, { cwd: work });
  await writeFile(path.join(work, "server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n");
  await writeFile(path.join(work, "client.ext"), "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n");
  const ca = async (name: string, cn: string) => {
    await ssl(["req", "-x509", ...newKey, "-nodes", "-keyout", `${name}-key.pem`, "-out", `${name}.pem`, "-days", "30", "-subj", `/CN=${cn}`]);
  };
  const leaf = async (name: string, cn: string, caName: string, ext: string) => {
    await ssl(["req", ...newKey, "-nodes", "-keyout", `${name}-key.pem`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
    await ssl(["x509", "-req", "-in", `${name}.csr`, "-CA", `${caName}.pem`, "-CAkey", `${caName}-key.pem`, "-CAcreateserial", "-out", `${name}-cert.pem`, "-days", "30", "-extfile", ext]);
  };
  await Promise.all([ca("ca", "cicd test engine CA"), ca("other-ca", "cicd test other CA")]);
  await Promise.all([
    leaf("server", "127.0.0.1", "ca", "server.ext"),
    leaf("client", "cicd test client", "ca", "client.ext"),
    leaf("wrong", "cicd test intruder", "other-ca", "client.ext"),
  ]);
  const copy = async (from: string, to: string, mode = 0o644) => {
    await copyFile(path.join(work, from), to);
    await chmod(to, mode);
  };
  await Promise.all([
    copy("ca.pem", path.join(serverDir, "ca.pem")),
    copy("server-cert.pem", path.join(serverDir, "server-cert.pem")),
    copy("server-key.pem", path.join(serverDir, "server-key.pem"), 0o600),
    copy("ca.pem", path.join(clientDir, "ca.pem")),
    copy("client-cert.pem", path.join(clientDir, "cert.pem")),
    copy("client-key.pem", path.join(clientDir, "key.pem"), 0o600),
    copy("ca.pem", path.join(wrongDir, "ca.pem")),
    copy("wrong-cert.pem", path.join(wrongDir, "cert.pem")),
    copy("wrong-key.pem", path.join(wrongDir, "key.pem"), 0o600),
  ]);
}

/** The host address or route that overlaps `prefix`.0/24 (not counting `except`'s), if any. */
async function prefixInUse(prefix: string, except: string): Promise<string | undefined> {
  const [addrs, routes] = await Promise.all([run("ip", ["-4", "-o", "addr", "show"]), run("ip", ["-4", "route", "show", "table", "all"])]);
  for (const line of addrs.stdout.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === except) continue;
    const address = fields[3];
    if (address && overlaps(address, prefix)) return `${address} on ${fields[1]}`;
  }
  const routeTypes = new Set(["unicast", "local", "broadcast", "multicast", "anycast", "unreachable", "blackhole", "prohibit", "throw"]);
  for (const line of routes.stdout.split("\n")) {
    if (!line.trim() || new RegExp(`\\bdev ${except}\\b`).test(line)) continue;
    const tokens = line.trim().split(/\s+/);
    const destination = (routeTypes.has(tokens[0] ?? "") ? tokens[1] : tokens[0]) ?? "";
    if (overlaps(destination, prefix)) return `route ${line.trim()}`;
  }
  return undefined;
}

function overlaps(cidr: string, prefix: string): boolean {
  const [address, bitsText] = cidr.split("/");
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  const toInt = (ip: string) => ip.split(".").reduce((n, part) => n * 256 + Number(part), 0);
  if (!address || !/^\d+\.\d+\.\d+\.\d+$/.test(address) || bits === 0) return false;
  const ours = toInt(`${prefix}0`);
  const theirs = toInt(address);
  const common = Math.min(bits, 24);
  const mask = common === 0 ? 0 : (0xffffffff << (32 - common)) >>> 0;
  return ((ours & mask) >>> 0) === ((theirs & mask) >>> 0);
}

/** `docker save image | docker -H unix://socket load`, without a shell. */
async function pipeImage(image: string, socket: string): Promise<void> {
  const save = spawn("docker", ["save", image], { stdio: ["ignore", "pipe", "pipe"] });
  const load = spawn("docker", ["--host", `unix://${socket}`, "load", "--quiet"], { stdio: ["pipe", "pipe", "pipe"] });
  save.stdout.pipe(load.stdin);
  const collect = (child: ChildProcess) => {
    let text = "";
    child.stderr?.on("data", (d: Buffer) => (text += d.toString()));
    child.stdout?.on("data", (d: Buffer) => (child === load ? (text += d.toString()) : undefined));
    return new Promise<{ code: number | null; text: string }>((resolve) => {
      child.once("close", (code) => resolve({ code, text }));
      child.once("error", (error) => resolve({ code: -1, text: String(error) }));
    });
  };
  const [saved, loaded] = await Promise.all([collect(save), collect(load)]);
  if (saved.code !== 0 || loaded.code !== 0) {
    throw new Error(`remote engine: copying image ${image} failed: docker save exited ${saved.code} (${saved.text.trim()}), docker load exited ${loaded.code} (${loaded.text.trim()})`);
  }
}

async function imageExists(image: string): Promise<boolean> {
  return run("docker", ["image", "inspect", "--format", "{{.Id}}", image]).then(
    () => true,
    () => false,
  );
}

/** Unmounts what a killed dockerd may have left mounted under dir (deepest first). */
async function unmountUnder(dir: string): Promise<void> {
  const info = await readFile("/proc/self/mountinfo", "utf8").catch(() => "");
  const mounts = info
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const mountPoint of mounts) await run("umount", ["-l", mountPoint]).catch(() => undefined);
}

async function which(command: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
    if (!dir) continue;
    try {
      const handle = await open(path.join(dir, command), "r");
      await handle.close();
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

function lastLines(text: string, count: number): string {
  return text.trimEnd().split("\n").slice(-count).join("\n");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
