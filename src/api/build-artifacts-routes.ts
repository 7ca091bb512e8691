import { Router } from "express";
import type { Manager } from "../manager/manager.js";
import { isReleaseBuild } from "../manager/publish-build.js";
import type { Build } from "../manager/types.js";
import type { BuildArtifact } from "../shared/api/targets.js";
import { errors } from "../shared/errors.js";
import { sendArtifact } from "./artifacts-routes.js";

/**
 * A build's artifacts by key, whatever kind of build it was: `GET /builds/:key/artifacts` →
 * `{"artifacts": [{"name", "size"}]}` and `GET /builds/:key/artifacts/:file` (download, Range,
 * ETag). A pull request's build is kept only here (never in builds.json); a branch build's
 * files are its published files in the target's folder.
 */
export function buildArtifactsRoutes(manager: Manager): Router {
  const router = Router();
  const buildOf = (key: string): Build => {
    const build = manager.get(key);
    if (!build) throw errors.notFound("build", key);
    return build;
  };
  const list = async (build: Build): Promise<BuildArtifact[]> => {
    if (build.status !== "succeeded") return [];
    if (!isReleaseBuild(build)) return (await manager.buildArtifacts.list(build.key)) ?? [];
    return build.artifacts.map((name) => ({ name, size: build.sizes[name] ?? 0 }));
  };
  const pathOf = (build: Build, name: string): Promise<string> =>
    isReleaseBuild(build) ? manager.servicefs.artifactPath(build.target, name) : manager.buildArtifacts.file(build.key, name);

  router.get("/builds/:key/artifacts", async (req, res) => {
    res.json({ key: req.params.key, artifacts: await list(buildOf(req.params.key)) });
  });

  router.get("/builds/:key/artifacts/:file", async (req, res, next) => {
    const build = buildOf(req.params.key);
    const name = req.params.file;
    const listed = (await list(build)).some((a) => a.name === name);
    const file = listed ? await pathOf(build, name).catch(() => undefined) : undefined;
    if (!file) throw errors.notFound("artifact", `${build.key}/${name}`);
    sendArtifact(res, next, file, name, `${build.key}/${name}`);
  });

  return router;
}
