export { openDatabase, type Db } from "./open-database.js";
export { BuildStore, type NewBuild, type BuildPatch } from "./build-store.js";
