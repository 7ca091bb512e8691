export { CicdClient, CicdApiError, type ClientOptions, type TargetSummary, type Build, type BuildStatus, type RunnerView, type BuildsDocument, type BuildArtifact } from "./cicd-client.js";
