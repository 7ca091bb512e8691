import { createHash } from "node:crypto";
import path from "node:path";
import Database from "better-sqlite3";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Build } from "../../src/manager/types.js";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";
import { waitForValue } from "../helpers/wait-for.js";
import { browserAvailable, launchBrowser, mustHaveBrowser } from "./browser.js";

/**
 * Issue 13, the dashboard, in a real browser (Debian's chromium through playwright-core) against
 * a real server (real HTTP, real SQLite) whose builders are the fake executor's: sign-in and its
 * refusals, every page, the live log, Re-run, Cancel, Start, Stop, keyboard use, sign-out.
 */
const config = () =>
  testConfig({
    targets: [
      { name: "hello", url: "files:///nowhere", commands: ["echo hello \u001b[31mred\u001b[0m world"], artifacts: ["artifact.txt"], run: { command: "sh {file}" } },
      { name: "slow", url: "files:///nowhere", commands: ["echo first line", "sleep 600000"], artifacts: ["artifact.txt"] },
    ],
  });

if (!browserAvailable() && mustHaveBrowser()) {
  describe("the dashboard in a browser", () => {
    it("needs chromium (CI=true): apt-get install -y chromium", () => {
      throw new Error("chromium is missing at /usr/bin/chromium; the dashboard's browser tests cannot run");
    });
  });
}

describe.skipIf(!browserAvailable())("the dashboard in a browser", () => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const executor = new FakeExecutor();

  const waitForBuild = (key: string, ok: (b: Build) => boolean) =>
    waitForValue(async () => (await (await server.api(`/api/v1/builds/${key}`)).json()) as Build, ok, { what: `build ${key}`, timeout: 20_000 });
  const trigger = async (target: string, ref = "main") => (await (await server.api("/api/v1/builds", { method: "POST", json: { target, ref } })).json()) as Build;
  const cookieValue = async () => (await context.cookies()).find((c) => c.name === "cicd_session")?.value;
  /** A request with the browser's session but made by hand (another site, a script): the CSRF checks' subject. */
  const post = async (pathname: string, body: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${pathname}`, {
      method: "POST",
      redirect: "manual",
      headers: { cookie: `cicd_session=${await cookieValue()}`, "content-type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams(body),
    });

  beforeAll(async () => {
    server = await startTestServer(config(), { executor });
    browser = await launchBrowser();
    context = await browser.newContext({ acceptDownloads: true });
    page = await context.newPage();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close(0);
  });

  it("serves nothing without sign-in but /login and its assets; the rest of the server stays open", async () => {
    const home = await fetch(`${server.url}/`, { redirect: "manual", headers: { accept: "text/html" } });
    expect(home.status).toBe(303);
    expect(home.headers.get("location")).toBe("/login?next=%2F");
    const builds = await fetch(`${server.url}/builds?target=hello`, { redirect: "manual", headers: { accept: "text/html" } });
    expect(builds.headers.get("location")).toBe("/login?next=%2Fbuilds%3Ftarget%3Dhello");
    for (const data of ["/events", "/builds/any/log", "/builds/any/log?follow=1", "/builds/any/artifacts/artifact.txt"]) {
      const res = await fetch(`${server.url}${data}`, { redirect: "manual" });
      expect(res.status, data).toBe(401);
      expect(((await res.json()) as { code: string }).code).toBe("UNAUTHORIZED");
    }
    for (const open of ["/login", "/dashboard/app.css", "/dashboard/app.js", "/healthz", "/metrics", "/api/v1/openapi.json"]) {
      expect((await fetch(`${server.url}${open}`)).status, open).toBe(200);
    }
    expect((await fetch(`${server.url}/badge/hello.svg?branch=main`)).headers.get("content-type")).toMatch(/svg/);
    const login = await fetch(`${server.url}/login`);
    expect(login.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(await login.text()).not.toMatch(/<script>|style=/);
    // A script asking `/` for anything but HTML still gets the JSON pointer to the API.
    expect(await (await fetch(`${server.url}/`)).json()).toMatchObject({ api: "/api/v1" });
    const api = await fetch(`${server.url}/api/v1/builds`);
    expect(api.status).toBe(401);
  });

  it("refuses a wrong token, then signs in with the API token and goes where the user was going", async () => {
    await page.goto(`${server.url}/builds?target=hello`);
    expect(new URL(page.url()).pathname).toBe("/login");
    await page.getByLabel("API token").fill("not-the-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("not the server's API token");
    expect(await cookieValue()).toBeUndefined();

    await page.getByLabel("API token").fill(server.apiToken);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${server.url}/builds?target=hello`);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Builds");
    const cookie = (await context.cookies()).find((c) => c.name === "cicd_session")!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Lax", secure: false });
    expect(cookie.expires * 1000 - Date.now()).toBeGreaterThan(6.9 * 24 * 3600 * 1000);
    // SQLite keeps the SHA-256 of the cookie's value, never the value.
    const db = new Database(path.join(server.dir, "cicd.sqlite"), { readonly: true });
    try {
      const rows = db.prepare("SELECT * FROM sessions").all() as Record<string, string>[];
      expect(rows.map((r) => r.id_hash)).toContain(createHash("sha256").update(cookie.value).digest("hex"));
      expect(JSON.stringify(rows)).not.toContain(cookie.value);
    } finally {
      db.close();
    }
  });

  it("`/login?next=` never sends the user to another site", async () => {
    const res = await fetch(`${server.url}/login`, {
      method: "POST",
      redirect: "manual",
      headers: { origin: server.url, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: server.apiToken, next: "//evil.example/x" }),
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/");
    // Another site's form cannot sign the browser in (login CSRF).
    const forged = await fetch(`${server.url}/login`, {
      method: "POST",
      redirect: "manual",
      headers: { origin: "https://evil.example", "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: server.apiToken }),
    });
    expect(forged.status).toBe(403);
    expect(forged.headers.get("set-cookie")).toBeNull();
  });

  it("shows each target with the last build of each branch, and filters and pages builds", async () => {
    const main = await trigger("hello", "main");
    const dev = await trigger("hello", "refs/heads/dev");
    await waitForBuild(main.key, (b) => b.status === "succeeded");
    await waitForBuild(dev.key, (b) => b.status === "succeeded");
    await page.goto(`${server.url}/`);
    const hello = page.getByRole("region", { name: /^hello/ });
    await expect.poll(() => hello.getByRole("row").allTextContents()).toEqual([
      expect.stringContaining("Branch"),
      expect.stringMatching(/^dev\s*succeeded\s*hello #2/),
      expect.stringMatching(/^main\s*succeeded\s*hello #1/),
    ]);
    await page.goto(`${server.url}/builds?target=hello&branch=dev`);
    expect(await page.getByRole("row").count()).toBe(2);
    await page.goto(`${server.url}/builds?status=failed`);
    expect(await page.getByText("No builds match.").count()).toBe(1);
  });

  it("updates a page live from the build events, without a reload", async () => {
    await page.goto(`${server.url}/builds?target=hello`);
    const rows = await page.getByRole("row").count();
    await page.evaluate(() => Object.assign(globalThis, { notReloaded: true }));
    const build = await trigger("hello", "refs/heads/live");
    await expect.poll(() => page.getByRole("row").filter({ hasText: `hello #${build.number}` }).textContent()).toContain("live");
    await expect.poll(() => page.getByRole("row").filter({ hasText: `hello #${build.number}` }).textContent()).toContain("succeeded");
    expect(await page.getByRole("row").count()).toBe(rows + 1);
    expect(await page.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded)).toBe(true);
  });

  it("follows a build's log live (ANSI colours, #L links), and Cancel works from the keyboard", async () => {
    const slow = await trigger("slow");
    await waitForBuild(slow.key, (b) => b.status === "running");
    await page.goto(`${server.url}/builds/${slow.key}`);
    const log = page.getByRole("log");
    await expect.poll(() => log.textContent()).toContain("first line");
    // The log grows while the page is open: the fake builder says one more line.
    const workload = executor.handles.get(executor.started.find((s) => s.buildKey === slow.key && s.role === "builder")!.id) as unknown as { say(text: string): void };
    workload.say("\u001b[32mgreen\u001b[0m second line\n");
    const second = log.locator(".line", { hasText: "green second line" });
    await expect.poll(() => second.count()).toBe(1);
    expect(await second.locator(".fg-green").textContent()).toBe("green");
    const id = await second.getAttribute("id");
    expect(id).toMatch(/^L\d+$/);
    expect(await second.locator("a").getAttribute("href")).toBe(`#${id}`);
    expect(await log.locator(".line").last().getAttribute("id")).toBe(id);

    // Keyboard: Tab until the Cancel button has focus, then Enter.
    for (let i = 0; i < 30 && (await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string } | null } }).document.activeElement?.textContent)) !== "Cancel"; i++) {
      await page.keyboard.press("Tab");
    }
    await page.keyboard.press("Enter");
    await waitForBuild(slow.key, (b) => b.status === "cancelled");
    await expect.poll(() => page.locator("h1").textContent()).toContain("cancelled");
    expect(await page.getByRole("button", { name: "Cancel" }).count()).toBe(0);
  });

  it("Re-run queues the same target, ref and commit, and the page follows it to its end; artifacts download", async () => {
    const first = await trigger("hello", "main");
    await waitForBuild(first.key, (b) => b.status === "succeeded");
    await page.goto(`${server.url}/builds/${first.key}`);
    await expect.poll(() => page.getByRole("log").textContent()).toContain("hello red world");
    expect(await page.getByRole("log").locator(".fg-red").first().textContent()).toBe("red");
    await page.getByRole("button", { name: "Re-run" }).click();
    await page.waitForURL((url) => url.pathname.startsWith("/builds/") && !url.pathname.endsWith(first.key));
    const key = decodeURIComponent(new URL(page.url()).pathname.split("/")[2]!);
    const rerun = await waitForBuild(key, (b) => b.status === "succeeded");
    expect(rerun).toMatchObject({ target: "hello", ref: "main", trigger: "rerun", sha: first.sha });
    // Live: the page shows the end without a reload.
    await expect.poll(() => page.locator("h1").textContent(), { timeout: 15_000 }).toContain("succeeded");
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: /^artifact-.*\.txt$/ }).click()]);
    const stream = await download.createReadStream();
    let text = "";
    for await (const chunk of stream) text += String(chunk);
    expect(text).toBe(`built ${key}\n`);
    expect(download.suggestedFilename()).toBe(rerun.artifacts[0]);
    const raw = await page.request.get(`${server.url}/builds/${key}/log`);
    expect(await raw.text()).toContain("hello");
  });

  it("refuses a state change without the CSRF token or from another origin, and changes nothing", async () => {
    const slow = await trigger("slow");
    await waitForBuild(slow.key, (b) => b.status === "running");
    const csrf = (await page.goto(`${server.url}/builds/${slow.key}`), await page.locator("input[name=_csrf]").first().inputValue());
    const refusals = [
      await post(`/builds/${slow.key}/cancel`, {}, { origin: server.url }),
      await post(`/builds/${slow.key}/cancel`, { _csrf: "wrong" }, { origin: server.url }),
      await post(`/builds/${slow.key}/cancel`, { _csrf: csrf }, { origin: "https://evil.example" }),
      await post(`/builds/${slow.key}/cancel`, { _csrf: csrf }),
      await post(`/builds/${slow.key}/rerun`, { _csrf: csrf }, { referer: "https://evil.example/page" }),
      // Behind a proxy on this host: the forwarded origin is the server's, and must match exactly.
      await post(`/builds/${slow.key}/cancel`, { _csrf: csrf }, { "x-forwarded-host": "ci.example.com", "x-forwarded-proto": "https", origin: "http://ci.example.com" }),
    ];
    expect(refusals.map((r) => r.status)).toEqual([403, 403, 403, 403, 403, 403]);
    expect((await waitForBuild(slow.key, () => true)).status).toBe("running");
    expect(((await (await server.api("/api/v1/builds?target=slow")).json()) as { builds: Build[] }).builds.filter((b: Build) => b.trigger === "rerun")).toEqual([]);
    // The same request with the token and this origin is done.
    const done = await post(`/builds/${slow.key}/cancel`, { _csrf: csrf }, { "x-forwarded-host": "ci.example.com", "x-forwarded-proto": "https", origin: "https://ci.example.com" });
    expect(done.status).toBe(303);
    expect((await waitForBuild(slow.key, (b) => b.status === "cancelled")).reason).toBeTruthy();
  });

  it("starts and stops a runner from /runners, showing its current build", async () => {
    await page.goto(`${server.url}/runners`);
    await page.getByRole("listitem").filter({ hasText: "hello" }).getByRole("button", { name: "Start" }).click();
    await page.waitForURL(/\/runners#runner-/);
    const id = new URL(page.url()).hash.slice("#runner-".length);
    const section = page.locator(`#runner-${id}`);
    expect(await section.textContent()).toContain("running");
    await section.getByRole("button", { name: "Stop" }).click();
    await page.waitForURL(/\/runners#runner-/);
    await expect.poll(() => page.locator(`#runner-${id} dd`).first().textContent()).toContain("stopped");
    expect(await page.locator(`#runner-${id}`).getByRole("button", { name: "Stop" }).count()).toBe(0);
    const view = (await (await server.api(`/api/v1/runners/${id}`)).json()) as { state: string };
    expect(view.state).toBe("stopped");
  });

  it("Deploy moves the target's runner to a good build", async () => {
    const good = await trigger("hello", "main");
    await waitForBuild(good.key, (b) => b.status === "succeeded");
    await page.goto(`${server.url}/builds/${good.key}`);
    await page.getByRole("button", { name: "Deploy" }).click();
    await page.waitForURL(/\/runners#runner-/);
    const id = new URL(page.url()).hash.slice("#runner-".length);
    const view = (await (await server.api(`/api/v1/runners/${id}`)).json()) as { state: string };
    expect(view.state).toBe("running");
    // The runner was started pinned to the build (the fake executor runs no `cicd runner` to say so itself).
    const args = executor.started.find((s) => s.id === id)!.args;
    expect(args[args.indexOf("--pin") + 1]).toBe(good.key);
    await page.locator(`#runner-${id}`).getByRole("button", { name: "Stop" }).click();
    await page.waitForURL(/\/runners#runner-/);
  });

  it("a session survives a restart of the server; signing out needs the CSRF token and ends it", async () => {
    const before = await cookieValue();
    await server.close(0);
    server = await startTestServer(server.config, { executor });
    // Cookies do not depend on the port: the browser still holds the session.
    await page.goto(`${server.url}/runners`);
    expect(new URL(page.url()).pathname).toBe("/runners");
    const forged = await fetch(`${server.url}/logout`, { method: "POST", redirect: "manual", headers: { origin: server.url, cookie: `cicd_session=${before}` } });
    expect(forged.status).toBe(403);
    await page.reload();
    expect(new URL(page.url()).pathname).toBe("/runners");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/login$/);
    expect(await cookieValue()).toBeUndefined();
    const again = await fetch(`${server.url}/`, { redirect: "manual", headers: { accept: "text/html", cookie: `cicd_session=${before}` } });
    expect(again.status).toBe(303);
    expect(again.headers.get("location")).toMatch(/^\/login/);
  });
});
