import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildArtifactsRoutes } from "../../src/api/build-artifacts-routes.js";
import { buildsRoutes } from "../../src/api/builds-routes.js";
import { eventsRoutes } from "../../src/api/events-routes.js";
import { errorHandler } from "../../src/api/http-errors.js";
import { createDashboard } from "../../src/dashboard/create-dashboard.js";
import { gitHubSignInSettings } from "../../src/dashboard/github-sign-in.js";
import type { Build } from "../../src/manager/types.js";
import { openDatabase, type Db } from "../../src/store/open-database.js";
import { SessionStore } from "../../src/store/session-store.js";
import { startFakeGitHubApi } from "../fixtures/fake-github-api.js";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";
import { waitForValue } from "../helpers/wait-for.js";
import { browserAvailable, launchBrowser } from "./browser.js";

/**
 * Issue 13, "Sign in with GitHub": the OAuth web flow against a fake GitHub on 127.0.0.1 (web and
 * API, GitHub Enterprise layout), then what a GitHub session may see and do. The dashboard runs
 * on a real server's manager and runners (real HTTP, real SQLite) with its GitHub settings made
 * by gitHubSignInSettings from GHE_HOST/GHE_PROTOCOL=http, as the server's environment would.
 */
const CLIENT_SECRET = "oauth-client-secret-0123456789";
const users = {
  reader: { "acme/app": "read" as const },
  writer: { "acme/app": "write" as const, "acme/lib": "read" as const },
};

describe("Sign in with GitHub", () => {
  let server: TestServer;
  let fake: Awaited<ReturnType<typeof startFakeGitHubApi>>;
  let db: Db;
  let dashboard: Server;
  let url: string;
  const logger = memoryLogger();
  const executor = new FakeExecutor();
  const builds: Record<string, Build> = {};

  /** The dashboard, as mount-routes.ts mounts it, on a port of its own; again after a "restart". */
  const startDashboard = async () => {
    db = openDatabase(path.join(server.dir, "dashboard-sessions.sqlite"));
    const github = gitHubSignInSettings({ APP_ID: "1", GITHUB_CLIENT_ID: "Iv1.client", GITHUB_CLIENT_SECRET: CLIENT_SECRET, GHE_HOST: fake.host, GHE_PROTOCOL: "http" });
    const app = express();
    app.use(createDashboard({
      config: server.config,
      manager: server.manager,
      runners: server.runners,
      sessions: new SessionStore(db),
      apiToken: server.apiToken,
      api: { buildLog: buildsRoutes(server.manager), artifactDownload: buildArtifactsRoutes(server.manager), events: eventsRoutes(server.manager) },
      logger,
      github,
    }));
    app.use(errorHandler(logger));
    dashboard = createServer(app);
    await new Promise<void>((resolve) => dashboard.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(dashboard.address() as AddressInfo).port}`;
  };
  const stopDashboard = async () => {
    dashboard.closeAllConnections();
    await new Promise((resolve) => dashboard.close(resolve));
    db.close();
  };

  /** Plays the browser through GitHub's web flow as `login`; returns the session cookie ("name=value"). */
  const signIn = async (login: string) => {
    const start = await fetch(`${url}/login/github`, { redirect: "manual" });
    const stateCookie = start.headers.getSetCookie().find((c) => c.startsWith("cicd_oauth_state="))!.split(";")[0]!;
    const authorize = new URL(start.headers.get("location")!);
    authorize.searchParams.set("login", login);
    const back = await fetch(authorize, { redirect: "manual" });
    expect(back.status).toBe(302);
    const done = await fetch(back.headers.get("location")!, { redirect: "manual", headers: { cookie: stateCookie } });
    expect(done.status).toBe(303);
    return done.headers.getSetCookie().find((c) => c.startsWith("cicd_session="))!.split(";")[0]!;
  };
  const get = (cookie: string, pathname: string) => fetch(`${url}${pathname}`, { redirect: "manual", headers: { cookie, accept: "text/html" } });
  const csrfOf = async (cookie: string) => /name="_csrf" value="([^"]+)"/.exec(await (await get(cookie, "/")).text())![1]!;
  const post = async (cookie: string, pathname: string) =>
    fetch(`${url}${pathname}`, {
      method: "POST",
      redirect: "manual",
      headers: { cookie, origin: url, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ _csrf: await csrfOf(cookie) }),
    });
  const finished = (key: string) =>
    waitForValue(async () => (await (await server.api(`/api/v1/builds/${key}`)).json()) as Build, (b) => ["succeeded", "failed", "error", "cancelled"].includes(b.status), { what: `build ${key}`, timeout: 20_000 });
  const trigger = async (target: string) => (await (await server.api("/api/v1/builds", { method: "POST", json: { target, ref: "main" } })).json()) as Build;
  const countOf = async (target: string) => ((await (await server.api(`/api/v1/builds?target=${target}`)).json()) as { builds?: Build[] } | Build[]);

  beforeAll(async () => {
    fake = await startFakeGitHubApi({ oauth: { clientId: "Iv1.client", clientSecret: CLIENT_SECRET, users } });
    const target = (name: string, repository?: string) => ({ name, url: "files:///nowhere", commands: [`echo ${name}`], artifacts: ["artifact.txt"], run: { command: "sh {file}" }, ...(repository ? { repository } : {}) });
    server = await startTestServer(testConfig({ targets: [target("app", "acme/app"), target("lib", "acme/lib"), target("local")] }), { executor });
    for (const name of ["app", "lib", "local"]) builds[name] = await finished((await trigger(name)).key);
    await startDashboard();
  }, 60_000);
  afterAll(async () => {
    await stopDashboard();
    await server?.close(0);
    await fake?.close();
  });

  it("offers it on /login and sends the browser to GitHub's authorize page with a state cookie", async () => {
    expect(await (await fetch(`${url}/login`)).text()).toContain('href="/login/github">Sign in with GitHub');
    const start = await fetch(`${url}/login/github`, { redirect: "manual" });
    expect(start.status).toBe(303);
    const location = new URL(start.headers.get("location")!);
    expect(`${location.origin}${location.pathname}`).toBe(`http://${fake.host}/login/oauth/authorize`);
    expect(location.searchParams.get("client_id")).toBe("Iv1.client");
    expect(location.searchParams.get("redirect_uri")).toBe(`${url}/login/github/callback`);
    const cookie = start.headers.getSetCookie().find((c) => c.startsWith("cicd_oauth_state="))!;
    expect(cookie).toContain(`cicd_oauth_state=${location.searchParams.get("state")};`);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/Max-Age=600/);
  });

  it("refuses a callback whose state is not the browser's, and opens no session", async () => {
    const start = await fetch(`${url}/login/github`, { redirect: "manual" });
    const authorize = new URL(start.headers.get("location")!);
    authorize.searchParams.set("login", "writer");
    authorize.searchParams.set("state", "someone-elses-state");
    const back = await fetch(authorize, { redirect: "manual" });
    const stateCookie = start.headers.getSetCookie()[0]!.split(";")[0]!;
    const done = await fetch(back.headers.get("location")!, { redirect: "manual", headers: { cookie: stateCookie } });
    expect(done.status).toBe(403);
    expect(done.headers.getSetCookie().some((c) => c.startsWith("cicd_session="))).toBe(false);
    // Without the cookie at all, too.
    expect((await fetch(`${url}/login/github/callback?code=x&state=y`, { redirect: "manual" })).status).toBe(403);
    // The code was never traded.
    expect(fake.requests.filter((r) => r.path === "/login/oauth/access_token")).toHaveLength(0);
  });

  it("a reader sees only the targets of repositories they can read, with no buttons; their POST is 403 and changes nothing", async () => {
    const cookie = await signIn("reader");
    const home = await (await get(cookie, "/")).text();
    expect(home).toContain('id="target-app"');
    expect(home).not.toContain('id="target-lib"');
    expect(home).not.toContain('id="target-local"');
    expect(home).toContain("reader");
    const list = await (await get(cookie, "/builds")).text();
    expect(list).toContain(builds.app!.key);
    expect(list).not.toContain(builds.lib!.key);
    expect(list).not.toContain(builds.local!.key);

    const page = await get(cookie, `/builds/${builds.app!.key}`);
    expect(page.status).toBe(200);
    const text = await page.text();
    expect(text).not.toMatch(/Re-run|Deploy|Cancel/);
    for (const hidden of [builds.lib!, builds.local!]) {
      expect((await get(cookie, `/builds/${hidden.key}`)).status).toBe(404);
      expect((await get(cookie, `/builds/${hidden.key}/log`)).status).toBe(404);
      expect((await get(cookie, `/builds/${hidden.key}/artifacts/artifact.txt`)).status).toBe(404);
    }
    expect((await get(cookie, `/builds/${builds.app!.key}/log`)).status).toBe(200);
    const runners = await (await get(cookie, "/runners")).text();
    expect(runners).not.toMatch(/>Start</);

    const before = JSON.stringify(await countOf("app"));
    for (const action of [`/builds/${builds.app!.key}/rerun`, `/builds/${builds.app!.key}/deploy`, `/builds/${builds.lib!.key}/rerun`, "/targets/app/runners", "/targets/local/runners"]) {
      expect((await post(cookie, action)).status, action).toBe(403);
    }
    expect(JSON.stringify(await countOf("app"))).toBe(before);
    expect((await server.runners.list()).length).toBe(0);
  });

  it("a writer can Re-run a build of their repository, and only read the one they can read", async () => {
    const cookie = await signIn("writer");
    expect(await (await get(cookie, "/")).text()).toContain('id="target-lib"');
    expect(await (await get(cookie, `/builds/${builds.app!.key}`)).text()).toContain("Re-run");
    expect(await (await get(cookie, `/builds/${builds.lib!.key}`)).text()).not.toContain("Re-run");
    const rerun = await post(cookie, `/builds/${builds.app!.key}/rerun`);
    expect(rerun.status).toBe(303);
    const key = decodeURIComponent(rerun.headers.get("location")!.replace("/builds/", ""));
    expect((await finished(key)).trigger).toBe("rerun");
    expect((await post(cookie, `/builds/${builds.lib!.key}/rerun`)).status).toBe(403);
  });

  it("the live event stream carries only builds of readable targets", async () => {
    const cookie = await signIn("reader");
    const stream = await fetch(`${url}/events`, { headers: { cookie } });
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    let text = "";
    const ready = (async () => {
      const decoder = new TextDecoder();
      while (!text.includes('"target":"app"')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value);
      }
    })();
    // lib's events all come before app's: once app's has arrived, a leak of lib's would show.
    await finished((await trigger("lib")).key);
    await finished((await trigger("local")).key);
    await trigger("app");
    await ready;
    await reader.cancel();
    expect(text).toContain("event: build");
    expect(text).not.toContain('"target":"lib"');
    expect(text).not.toContain('"target":"local"');
  });

  it("an API-token session still sees every target", async () => {
    const res = await fetch(`${url}/login`, {
      method: "POST",
      redirect: "manual",
      headers: { origin: url, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: server.apiToken }),
    });
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith("cicd_session="))!.split(";")[0]!;
    const home = await (await get(cookie, "/")).text();
    for (const name of ["app", "lib", "local"]) expect(home).toContain(`id="target-${name}"`);
    expect(await (await get(cookie, `/builds/${builds.local!.key}`)).text()).toContain("Re-run");
  });

  it("keeps the session across a restart, with {login, repos} and never the user's token (not in SQLite, not in the logs)", async () => {
    const cookie = await signIn("writer");
    await stopDashboard();
    await startDashboard();
    expect((await get(cookie, "/")).status).toBe(200);
    expect(await (await get(cookie, `/builds/${builds.app!.key}`)).text()).toContain("Re-run");

    const rows = db.prepare("SELECT * FROM sessions WHERE kind = 'github'").all() as { who: string; data: string }[];
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.map((r) => JSON.parse(r.data) as unknown)).toContainEqual({ login: "writer", repos: { "acme/app": "write", "acme/lib": "read" } });
    const everything = [JSON.stringify(db.prepare("SELECT * FROM sessions").all()), ...logger.lines, ...server.logLines].join("\n");
    expect(fake.userTokens.size).toBeGreaterThan(0);
    for (const token of fake.userTokens.keys()) expect(everything).not.toContain(token);
    expect(everything).not.toContain(CLIENT_SECRET);
  });

  it.skipIf(!browserAvailable())("in a browser: Re-run is shown to a writer and hidden from a reader", async () => {
    const browser = await launchBrowser();
    try {
      for (const [login, shown] of [["reader", 0], ["writer", 1]] as const) {
        const [name, value] = (await signIn(login)).split("=") as [string, string];
        const context = await browser.newContext();
        await context.addCookies([{ name, value, url }]);
        const page = await context.newPage();
        await page.goto(`${url}/builds/${builds.app!.key}`);
        expect(await page.getByRole("heading", { level: 1 }).textContent()).toContain("app");
        expect(await page.getByRole("button", { name: "Re-run" }).count(), login).toBe(shown);
        await context.close();
      }
    } finally {
      await browser.close();
    }
  }, 60_000);
});
