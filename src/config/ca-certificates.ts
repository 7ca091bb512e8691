import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { errors } from "../shared/errors.js";
import type { Target } from "./load-config.js";

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * A target's extra CA certificates (`caCertificates`: a PEM file), read again for each build so
 * a renewed file applies without a restart. Only the certificates are kept: a private key that
 * found its way into the file never reaches a build. CONFIG_INVALID when the file cannot be read
 * or holds no certificate, naming the target and the file (its name only: paths stay private).
 */
export async function readCaCertificates(target: Pick<Target, "name" | "caCertificates">): Promise<string | undefined> {
  if (!target.caCertificates) return undefined;
  const text = await readFile(target.caCertificates, "utf8").catch((error: unknown) => {
    throw problem(target, `cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  });
  return certificatesIn(target, text);
}

/** The same, at config load: a missing or empty file stops the server at start. */
export function checkCaCertificates(targets: readonly Pick<Target, "name" | "caCertificates">[]): void {
  for (const target of targets) {
    if (!target.caCertificates) continue;
    let text: string;
    try {
      text = readFileSync(target.caCertificates, "utf8");
    } catch (error) {
      throw problem(target, `cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`);
    }
    certificatesIn(target, text);
  }
}

function certificatesIn(target: Pick<Target, "name" | "caCertificates">, text: string): string {
  const found = text.match(PEM_CERTIFICATE);
  if (!found) throw problem(target, "holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
  return `${found.join("\n")}\n`;
}

function problem(target: Pick<Target, "name" | "caCertificates">, why: string) {
  return errors.configInvalid("cicd.yml", `target ${target.name}: caCertificates`, `${path.basename(target.caCertificates ?? "")} ${why}`);
}
