import { spawn } from "node:child_process";

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a helper program (git, tar) with captured output and no shell. Never throws for a
 * non-zero exit: callers read `code` and word the error themselves (masked). An abort kills it
 * and what it started: git runs its transport as a child (git-remote-https) that holds the
 * output pipes, so killing git alone would leave the call waiting for that child's own end.
 */
export function runProcess(
  file: string,
  args: string[],
  options: { cwd?: string; env: NodeJS.ProcessEnv; signal?: AbortSignal; identity?: { uid?: number; gid?: number } },
): Promise<ProcessResult> {
  return new Promise((resolve) => {
    // A process group of its own, so an abort reaches the whole tree.
    const child = spawn(file, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"], detached: true, ...options.identity });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout = keepTail(stdout + c)));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr = keepTail(stderr + c)));
    const onAbort = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    };
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    child.once("error", (error) => {
      options.signal?.removeEventListener("abort", onAbort);
      resolve({ code: 127, stdout, stderr: `${stderr}${file}: ${error.message}` });
    });
    child.once("close", (code) => {
      options.signal?.removeEventListener("abort", onAbort);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Keeps the last 64 KiB: enough for any message, bounded for chatty programs. */
function keepTail(text: string): string {
  return text.length > 65_536 ? text.slice(-65_536) : text;
}

/** The builder's own environment reduced to what helpers and build commands need. */
export function baseEnv(source: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const keep = [
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TERM",
    "JAVA_HOME", "SSH_AUTH_SOCK", "SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS",
    "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
  ];
  const env: NodeJS.ProcessEnv = {};
  for (const name of keep) if (source[name] !== undefined) env[name] = source[name];
  env.PATH ??= "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  return env;
}
