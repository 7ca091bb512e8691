export { CicdClient, CicdApiError, type ClientOptions, type TargetSummary, type Build, type BuildStatus, type RunnerView, type BuildsDocument } from "./cicd-client.js";
