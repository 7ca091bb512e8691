import { mkdtempSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import express from "express";
import { describe, expect, it } from "vitest";
import { pathHider, serverFolders } from "../../src/api/hide-paths.js";
import { errorHandler } from "../../src/api/http-errors.js";
import { errors } from "../../src/shared/errors.js";
import { memoryLogger } from "../helpers/memory-logger.js";

describe("pathHider", () => {
  const hide = pathHider(["/srv/cicd", "/srv/cicd/data", "/srv/cicd/data/servicefs"]);

  it("rewrites a path under the deepest folder relative to it", () => {
    expect(hide("/srv/cicd/data/servicefs/hello/builds.json is not a valid builds file")).toBe("hello/builds.json is not a valid builds file");
    expect(hide("Timed out waiting for the lock /srv/cicd/data/logs/k.lock.")).toBe("Timed out waiting for the lock logs/k.lock.");
    expect(hide("see /srv/cicd/cicd.yml and /srv/cicd/data/cicd.sqlite")).toBe("see cicd.yml and cicd.sqlite");
  });

  it("names a folder itself by its last name, and leaves look-alike paths and routes alone", () => {
    expect(hide("No good build in /srv/cicd/data/servicefs; nothing to run.")).toBe("No good build in servicefs; nothing to run.");
    expect(hide("/srv/cicdx/a /srv/cicd-old/b /x/srv/cicd/c")).toBe("/srv/cicdx/a /srv/cicd-old/b /x/srv/cicd/c");
    expect(hide('No route named "GET /api/v1/nope".')).toBe('No route named "GET /api/v1/nope".');
  });

  it("hides the real path of a folder reached through a symlink", () => {
    const real = mkdtempSync(path.join(tmpdir(), "cicd-hide-"));
    const link = path.join(tmpdir(), `cicd-hide-link-${process.pid}`);
    symlinkSync(real, link);
    try {
      expect(pathHider([link])(`${realpathSync(real)}/x/builds.json`)).toBe("x/builds.json");
    } finally {
      rmSync(link);
      rmSync(real, { recursive: true });
    }
  });

  it("never treats the file system root as a server folder", () => {
    expect(pathHider(["/"])("/etc/passwd")).toBe("/etc/passwd");
  });

  it("lists the servicefs, data, config and secrets folders of a config", () => {
    const folders = serverFolders({ file: "/srv/c/cicd.yml", servicefs: "/srv/sfs", database: "/var/lib/cicd/db.sqlite", targets: [{ secrets: "/etc/cicd/hello.env" }] as never });
    expect(folders.sort()).toEqual(["/etc/cicd", "/srv/c", "/srv/sfs", "/var/lib/cicd"]);
  });
});

describe("errorHandler", () => {
  it("shows no absolute path of the server's folders in any catalogue error", async () => {
    const data = "/srv/cicd/data";
    const thrown = [
      errors.metadataCorrupt(`${data}/servicefs/hello/builds.json`, "it is a folder, not a file"),
      errors.lockTimeout(`${data}/servicefs/hello/.builds.lock`, 10_000),
      errors.noGoodBuild(`${data}/servicefs/hello`, ["k1"]),
    ];
    const app = express();
    app.get("/:i", (req) => {
      throw thrown[Number(req.params.i)];
    });
    app.use(errorHandler(memoryLogger(), { folders: [data, `${data}/servicefs`] }));
    const server = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const answers = await Promise.all(thrown.map(async (_, i) => ((await (await fetch(`${base}/${i}`)).json()) as { error: string }).error));
      for (const answer of answers) expect(answer).not.toContain(data);
      expect(answers[0]).toContain("hello/builds.json is not a valid builds file");
      expect(answers[1]).toContain("the lock hello/.builds.lock");
      expect(answers[2]).toContain("No good build left in hello");
    } finally {
      server.close();
    }
  });
});
