import { spawn } from "node:child_process";
import http from "node:http";
import { Duplex, PassThrough } from "node:stream";

export interface SshTarget {
  /** As in ssh://user@host:port (user and port optional: ssh's own defaults and config apply). */
  host: string;
  user?: string;
  port?: number;
  /** An ssh_config file (`ssh -F`); unset, the user's own (~/.ssh/config). */
  config?: string;
}

/**
 * An http.Agent whose every connection is `ssh [user@]host docker system dial-stdio`: the engine's
 * API over the system's ssh, as the docker CLI reaches an ssh:// host. So the host's key is
 * checked against known_hosts, keys come from the agent or ~/.ssh, and ~/.ssh/config applies,
 * exactly as for `docker -H ssh://…`. `BatchMode`: never a password prompt (the server has no
 * terminal); a refusal is an error naming the host, with ssh's own words.
 */
export function sshDialAgent(target: SshTarget): http.Agent {
  // No cap on sockets: every workload holds two long polls (its log, its exit), and a capped
  // agent would queue the next workload's behind them.
  const agent = new http.Agent({ keepAlive: true });
  const destination = target.user ? `${target.user}@${target.host}` : target.host;
  const args = [
    "-o", "BatchMode=yes",
    ...(target.config ? ["-F", target.config] : []),
    ...(target.port ? ["-p", String(target.port)] : []),
    "--", destination, "docker", "system", "dial-stdio",
  ];
  agent.createConnection = () => {
    const child = spawn("ssh", args, { stdio: ["pipe", "pipe", "pipe"] });
    let said = "";
    child.stderr.setEncoding("utf8").on("data", (text: string) => (said = (said + text).slice(-2_000)));
    // The output ends only once ssh has: when it failed, the request gets ssh's reason rather
    // than an output that merely stopped ("socket hang up").
    const output = new PassThrough();
    child.stdout.pipe(output, { end: false });
    // Likewise the input: writing to an ssh that has just failed would end the socket first with
    // EPIPE or "Premature close", and ssh's reason (at its exit, just after) would be lost.
    const input = new PassThrough();
    input.pipe(child.stdin);
    child.stdin.on("error", () => undefined);
    const socket = Duplex.from({ readable: output, writable: input });
    child.once("error", (error) => socket.destroy(error));
    child.once("close", (code) => {
      if (code) socket.destroy(new Error(`ssh to ${destination} failed: ${said.trim().split("\n").at(-1) || `exit code ${code}`}`));
      else output.end();
    });
    socket.once("close", () => child.kill());
    // What node:http asks of a socket beyond a stream.
    const socketLike = socket as Duplex & Record<string, unknown>;
    for (const method of ["setTimeout", "setNoDelay", "setKeepAlive", "ref", "unref"]) socketLike[method] = () => socket;
    return socket as unknown as ReturnType<NonNullable<http.Agent["createConnection"]>>;
  };
  return agent;
}
