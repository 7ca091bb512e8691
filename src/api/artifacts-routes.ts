import { stat } from "node:fs/promises";
import { Router, type NextFunction, type Response } from "express";
import { findTarget, type Config } from "../config/load-config.js";
import type { BuildsDocument, TargetSummary } from "../shared/api/targets.js";
import type { TargetDisk } from "../manager/retention.js";
import { errors } from "../shared/errors.js";
import type { ServiceFs } from "../servicefs/service-fs.js";

/**
 * Targets and their artifacts: the builds.json metadata and downloads (Range, ETag). `disk`
 * gives a target's disk use as last measured (manager/retention.ts keeps it, so this answer
 * never walks the disk).
 */
export function artifactsRoutes(config: Config, servicefs: ServiceFs, disk?: (target: string) => TargetDisk | undefined): Router {
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
        ...(disk ? { disk: disk(t.name) ?? null } : {}),
      }) satisfies TargetSummary),
    });
  });

  router.get("/targets/:name/artifacts", async (req, res) => {
    res.json((await servicefs.builds(target(req.params.name).name).read()) satisfies BuildsDocument);
  });

  router.get("/targets/:name/artifacts/:file", async (req, res, next) => {
    const t = target(req.params.name);
    const file = await servicefs.artifactPath(t.name, req.params.file).catch(() => {
      throw errors.notFound("artifact", `${t.name}/${req.params.file}`);
    });
    sendArtifact(res, next, file, req.params.file, `${t.name}/${req.params.file}`);
  });

  return router;
}

/**
 * Sends an artifact as a download named `name`: sendFile answers Range requests (206) and sets
 * Content-Length, ETag and Last-Modified; what it refuses becomes a JSON error (`what` names the
 * artifact in it). For the target's and the build's artifact routes.
 */
export function sendArtifact(res: Response, next: NextFunction, file: string, name: string, what: string): void {
  res.attachment(name);
  res.sendFile(file, { dotfiles: "deny", acceptRanges: true, etag: true, lastModified: true }, (error) => {
    if (!error || res.headersSent) return;
    // An error answer is JSON, not the file: drop the download's headers (send keeps the
    // Content-Range of the size on a 416, which the client needs).
    res.removeHeader("content-disposition");
    void sendFileError(error, file, what, res).then(next, next);
  });
}

/**
 * The catalogue error for what send() refused: an unsatisfiable Range (416, with a
 * Content-Range of "bytes *" and the size), a failed If-Match or If-Unmodified-Since (412), a
 * file gone or not a file (404). Anything else is passed on as it is (a server fault).
 */
async function sendFileError(error: Error & { status?: number; code?: string }, file: string, name: string, res: Response): Promise<unknown> {
  if (error.status === 416) {
    const size = await stat(file).then((s) => s.size, () => 0);
    res.set("content-range", `bytes */${size}`);
    return errors.rangeNotSatisfiable(size);
  }
  if (error.status === 412) return errors.preconditionFailed("If-Match or If-Unmodified-Since");
  if (error.status === 404 || error.code === "ENOENT" || error.code === "EISDIR" || error.code === "ENOTDIR") return errors.notFound("artifact", name);
  return error;
}
