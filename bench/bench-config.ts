import { writeFileSync } from "node:fs";
import path from "node:path";
import { parseConfig, type Config } from "../src/config/load-config.js";

/**
 * The config of a server a benchmark part starts in `dir`: any free port, SQLite and the service
 * file system inside `dir`, and `settings` (host, targets, …) on top. A cicd.yml is written
 * there so that relative paths resolve, and so that the folder says what made it.
 */
export function benchConfig(dir: string, madeBy: string, settings: Record<string, unknown>): Config {
  const file = path.join(dir, "cicd.yml");
  writeFileSync(file, `# written by the benchmark (${madeBy})\n`);
  return parseConfig({ port: 0, servicefs: "./servicefs", database: "./cicd.sqlite", ...settings }, { file, env: {} });
}
