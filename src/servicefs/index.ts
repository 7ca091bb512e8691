export { artifactFileIn, ServiceFs, type PublishInput } from "./service-fs.js";
export { BuildsFile, BUILDS_FILE, type BuildRecord, type BuildsDocument } from "./builds-file.js";
export { artifactName, splitName, utcStamp } from "./artifact-name.js";
export { withFileLock } from "./file-lock.js";
export { writeFileAtomic } from "./atomic-write.js";
