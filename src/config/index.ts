export { loadConfig, parseConfig, findTarget, type Config, type Target } from "./load-config.js";
export { configSchema, targetSchema } from "./schema.js";
export { readSecretsFile } from "../shared/read-secrets.js";
