/** The package's library entry: the client, config loading, the service file system. */
export { CicdClient, CicdApiError } from "./client/index.js";
export { loadConfig, type Config, type Target } from "./config/load-config.js";
export { ServiceFs, BuildsFile, type BuildRecord, type BuildsDocument } from "./servicefs/index.js";
export { CicdError, type ErrorCode } from "./shared/errors.js";
export type { Build, BuildStatus } from "./shared/api/builds.js";
export type { TriggerRequest } from "./shared/trigger-request.js";
