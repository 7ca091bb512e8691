import path from "node:path";
import { getPrivateKey } from "@probot/get-private-key";
import { checkTokenLength } from "../config/check-secrets.js";
import { errors, errorMessage } from "../shared/errors.js";

/** The GitHub App settings, read from Probot's standard environment variables. */
export interface GitHubSettings {
  appId: number;
  /** PEM text of the app's private key. */
  privateKey: string;
  webhookSecret: string;
  /** REST API base: https://api.github.com, or `${GHE_PROTOCOL}://${GHE_HOST}/api/v3`. */
  baseUrl: string;
  /** Host that serves repositories of this GitHub (github.com or GHE_HOST). */
  gitHost: string;
  /** Protocol of that host (GHE_PROTOCOL, default https). */
  gitProtocol: string;
}

const source = "environment";

/**
 * Reads `APP_ID`, `PRIVATE_KEY` / `PRIVATE_KEY_PATH`, `WEBHOOK_SECRET`, `GHE_HOST` and
 * `GHE_PROTOCOL`. Returns undefined when `APP_ID` is unset (the server then runs without GitHub);
 * throws CONFIG_INVALID when it is set but the rest is missing or wrong, or the webhook secret is
 * shorter than 16 characters (one signed delivery is enough to guess a short one offline).
 * Error messages never contain the key or the secret.
 */
export function readGitHubSettings(env: NodeJS.ProcessEnv): GitHubSettings | undefined {
  const rawId = env.APP_ID?.trim();
  if (!rawId) return undefined;
  if (!env.WEBHOOK_SECRET) {
    throw errors.configInvalid(
      source,
      "",
      "WEBHOOK_SECRET is required when APP_ID is set; without it Probot would accept webhooks signed with the well-known secret 'development'",
    );
  }
  checkTokenLength(source, "WEBHOOK_SECRET", env.WEBHOOK_SECRET);
  if (!/^\d+$/.test(rawId)) throw errors.configInvalid(source, "APP_ID", "expected the numeric ID of the GitHub App");
  const protocol = (env.GHE_PROTOCOL?.trim() || "https").replace(/:?\/*$/, "");
  if (protocol !== "https" && protocol !== "http") {
    throw errors.configInvalid(source, "GHE_PROTOCOL", "expected https or http");
  }
  const gheHost = env.GHE_HOST?.trim().replace(/^https?:\/\//, "").replace(/\/+$/, "");
  return {
    appId: Number(rawId),
    privateKey: readPrivateKey(env),
    webhookSecret: env.WEBHOOK_SECRET,
    baseUrl: gheHost ? `${protocol}://${gheHost}/api/v3` : "https://api.github.com",
    gitHost: gheHost || "github.com",
    gitProtocol: gheHost ? protocol : "https",
  };
}

/**
 * PRIVATE_KEY or the file PRIVATE_KEY_PATH, read by Probot's own reader (@probot/get-private-key),
 * so a key that works with Probot works here: PEM, PEM with escaped newlines (`\n`), PEM
 * pasted on one line, or base64 of a PEM. Our messages replace the reader's: they name the
 * variable and what to do, and never contain the key. Unlike Probot, no stray `*.pem` in the
 * working folder is picked up when both variables are unset: the key must be named.
 */
function readPrivateKey(env: NodeJS.ProcessEnv): string {
  const notPem = (name: string) => errors.configInvalid(source, name, "expected a PEM private key (-----BEGIN RSA PRIVATE KEY-----)");
  let text: string | null;
  if (env.PRIVATE_KEY?.trim()) {
    try {
      text = getPrivateKey({ env: { PRIVATE_KEY: env.PRIVATE_KEY.trim() } });
    } catch {
      throw notPem("PRIVATE_KEY");
    }
  } else if (env.PRIVATE_KEY_PATH?.trim()) {
    const file = path.resolve(env.PRIVATE_KEY_PATH.trim());
    try {
      text = getPrivateKey({ filepath: file });
    } catch (error) {
      throw errors.configInvalid(source, "PRIVATE_KEY_PATH", `expected a readable .pem file; ${file}: ${errorMessage(error)}`);
    }
  } else {
    throw errors.configInvalid(
      source,
      "PRIVATE_KEY",
      "expected the GitHub App's private key (PEM text in PRIVATE_KEY, or its file in PRIVATE_KEY_PATH) because APP_ID is set",
    );
  }
  // The reader checks PRIVATE_KEY's form but returns a file's text as it is.
  if (!text || !/-----BEGIN (RSA )?PRIVATE KEY-----/.test(text)) throw notPem(env.PRIVATE_KEY?.trim() ? "PRIVATE_KEY" : "PRIVATE_KEY_PATH");
  return text;
}
