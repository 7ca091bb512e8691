import { Router } from "express";
import { findTarget, type Config } from "../config/load-config.js";
import { errors } from "../shared/errors.js";
import type { ServiceFs } from "../servicefs/service-fs.js";

/** Targets and their artifacts: the builds.json metadata and downloads (Range, ETag). */
export function artifactsRoutes(config: Config, servicefs: ServiceFs): Router {
  const router = Router();
  const target = (name: string) => {
    const t = findTarget(config, name);
    if (!t) throw errors.notFound("target", name);
    return t;
  };

  router.get("/targets", (_req, res) => {
    res.json({
      targets: config.targets.map((t) => ({
        name: t.name,
        repository: t.repository ?? null,
        branches: t.branches,
        image: t.image,
        timeoutMs: t.timeoutMs,
        run: t.run ?? null,
      })),
    });
  });

  router.get("/targets/:name/artifacts", async (req, res) => {
    res.json(await servicefs.builds(target(req.params.name).name).read());
  });

  router.get("/targets/:name/artifacts/:file", async (req, res, next) => {
    const t = target(req.params.name);
    const file = await servicefs.artifactPath(t.name, req.params.file).catch(() => {
      throw errors.notFound("artifact", `${t.name}/${req.params.file}`);
    });
    // sendFile answers Range requests (206) and sets Content-Length, ETag and Last-Modified.
    res.attachment(req.params.file);
    res.sendFile(file, { dotfiles: "deny", acceptRanges: true, etag: true, lastModified: true }, (error) => {
      if (error && !res.headersSent) next(error);
    });
  });

  return router;
}
