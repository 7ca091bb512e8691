import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { checkTokenLength } from "../config/check-secrets.js";
import type { Logger } from "../shared/logger.js";

/**
 * The REST API token: `CICD_API_TOKEN` when set; otherwise generated on first start and kept in
 * `<data dir>/api-token` (mode 0600, in a folder created 0700). Only the file's location is
 * ever logged. A token shorter than 16 characters, set or found in the file, stops the start.
 */
export function resolveApiToken(env: NodeJS.ProcessEnv, dataDir: string, logger: Logger): string {
  if (env.CICD_API_TOKEN) {
    checkTokenLength("environment", "CICD_API_TOKEN", env.CICD_API_TOKEN);
    return env.CICD_API_TOKEN;
  }
  const file = path.join(dataDir, "api-token");
  if (existsSync(file)) {
    const token = readFileSync(file, "utf8").trim();
    if (token) {
      checkTokenLength(file, "token", token);
      // A file written by hand (or by an older cicd) may be readable by others: it is the key to the API.
      if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
      logger.info(`API token read from ${file}`);
      return token;
    }
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString("base64url");
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  logger.info(`generated an API token; it is in ${file} (send it as "Authorization: Bearer <token>")`);
  return token;
}
