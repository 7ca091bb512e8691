import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A certificate authority of the test's own, as a company has, and a server certificate it signed. */
export interface TestCa {
  /** The CA's certificate (PEM): what a build must be told to trust. */
  caPem: string;
  /** Its file. */
  caFile: string;
  /** A server certificate for 127.0.0.1 and localhost, signed by the CA, and its key (PEM). */
  cert: string;
  key: string;
  cleanup(): void;
}

/** Makes a CA and a server certificate with openssl (EC keys: quick to make). */
export async function makeTestCa(): Promise<TestCa> {
  const dir = mkdtempSync(path.join(tmpdir(), "cicd-test-ca-"));
  const ssl = (...args: string[]) => run("openssl", args, { cwd: dir });
  await ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=cicd test CA");
  await ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1");
  writeFileSync(path.join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  await ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext");
  const read = (name: string) => readFileSync(path.join(dir, name), "utf8");
  return { caPem: read("ca.pem"), caFile: path.join(dir, "ca.pem"), cert: read("server.pem"), key: read("server.key"), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
