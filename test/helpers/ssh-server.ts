import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePort } from "./free-port.js";

const run = promisify(execFile);
const SSHD = "/usr/sbin/sshd";

/** An sshd of the test's own on 127.0.0.1, and an ssh_config that reaches it with a key. */
export interface SshServer {
  /** ssh://root@127.0.0.1:PORT */
  url: string;
  /** ssh_config for the client: the key, and known_hosts holding this server's key. */
  config: string;
  /** The same, but its known_hosts holds another key: the host key check must refuse it. */
  wrongHostKeyConfig: string;
  close(): Promise<void>;
}

/** What is missing for startSshServer here, or undefined when it can run. */
export function sshServerUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "an sshd of the test's own needs root (it logs in as root)";
  if (!existsSync(SSHD)) return "sshd is not installed (.ci/run installs openssh-server)";
  return undefined;
}

/**
 * Starts sshd (`-D`, its own config, host key and authorized key, in a temp folder) and waits
 * until it accepts the key. Logging in as root runs commands as the tests' own user, so
 * `docker system dial-stdio` reaches this machine's engine, as it would a remote host's.
 */
export async function startSshServer(): Promise<SshServer> {
  const missing = sshServerUnavailable();
  if (missing) throw new Error(missing);
  const dir = mkdtempSync(path.join(tmpdir(), "cicd-sshd-"));
  const file = (name: string) => path.join(dir, name);
  for (const key of ["host", "other-host", "client"]) await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", file(key)]);
  writeFileSync(file("authorized_keys"), readFileSync(file("client.pub")));
  const port = await freePort();
  mkdirSync("/run/sshd", { recursive: true });
  writeFileSync(
    file("sshd_config"),
    [
      `Port ${port}`, "ListenAddress 127.0.0.1", `HostKey ${file("host")}`, `AuthorizedKeysFile ${file("authorized_keys")}`,
      "PermitRootLogin prohibit-password", "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
      "StrictModes no", `PidFile ${file("sshd.pid")}`, "MaxStartups 64", "MaxSessions 64", "",
    ].join("\n"),
  );
  const client = (knownHostKey: string, name: string) => {
    writeFileSync(file(`${name}-known_hosts`), `[127.0.0.1]:${port} ${readFileSync(file(knownHostKey), "utf8")}`);
    writeFileSync(
      file(name),
      [`Host 127.0.0.1`, `  IdentityFile ${file("client")}`, "  IdentitiesOnly yes", `  UserKnownHostsFile ${file(`${name}-known_hosts`)}`, "  StrictHostKeyChecking yes", "  LogLevel ERROR", ""].join("\n"),
    );
    return file(name);
  };
  const config = client("host.pub", "ssh_config");
  const wrongHostKeyConfig = client("other-host.pub", "ssh_config_wrong");
  const sshd: ChildProcess = spawn(SSHD, ["-D", "-e", "-f", file("sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  sshd.stderr?.setEncoding("utf8").on("data", (t: string) => (log += t));
  const url = `ssh://root@127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await run("ssh", ["-F", config, "-p", String(port), "-o", "BatchMode=yes", "root@127.0.0.1", "true"]).then(() => true, () => false);
    if (ok) break;
    if (Date.now() > deadline || sshd.exitCode !== null) {
      sshd.kill();
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`sshd did not accept the test's key within 15 s: ${log.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    config,
    wrongHostKeyConfig,
    close: async () => {
      if (sshd.exitCode === null) {
        const exited = new Promise((resolve) => sshd.once("exit", resolve));
        sshd.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
