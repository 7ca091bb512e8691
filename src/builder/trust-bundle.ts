import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";

/** Where Debian (the builder image) keeps the system's CA bundle. */
const SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/**
 * Writes a target's extra CA certificates (PEM) beside the build and returns the environment
 * that makes the usual tools trust them, on top of the system's CAs: git, curl and OpenSSL read
 * a whole bundle (the system's plus these), Node.js and npm add NODE_EXTRA_CA_CERTS to their own,
 * Python's requests reads REQUESTS_CA_BUNDLE. The files are readable by the commands' user.
 */
export async function trustEnv(dir: string, pem: string): Promise<Record<string, string>> {
  const extra = path.join(dir, "extra-ca-certificates.pem");
  const bundle = path.join(dir, "ca-certificates.pem");
  const system = await readFile(SYSTEM_BUNDLE, "utf8").catch(() => "");
  const own = pem.endsWith("\n") ? pem : `${pem}\n`;
  await writeFile(extra, own, { mode: 0o644 });
  await writeFile(bundle, `${system}${system && !system.endsWith("\n") ? "\n" : ""}${own}`, { mode: 0o644 });
  return { NODE_EXTRA_CA_CERTS: extra, SSL_CERT_FILE: bundle, GIT_SSL_CAINFO: bundle, CURL_CA_BUNDLE: bundle, REQUESTS_CA_BUNDLE: bundle };
}
