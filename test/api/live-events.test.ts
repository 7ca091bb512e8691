import { writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventsRoutes } from "../../src/api/events-routes.js";
import { CicdClient, serverSentEvents, type ServerSentEvent } from "../../src/client/index.js";
import { buildSchema } from "../../src/shared/api/builds.js";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

/** Reads events from a stream until `stop` says so (or the stream ends). */
async function collect(body: ReadableStream<Uint8Array>, stop: (event: ServerSentEvent, all: ServerSentEvent[]) => boolean = () => false): Promise<ServerSentEvent[]> {
  const all: ServerSentEvent[] = [];
  for await (const event of serverSentEvents(body as unknown as AsyncIterable<Uint8Array>)) {
    all.push(event);
    if (stop(event, all)) break;
  }
  return all;
}

describe("live events and the log as events", () => {
  let server: TestServer;
  let client: CicdClient;
  beforeAll(async () => {
    server = await startTestServer(
      testConfig({
        targets: [
          { name: "three", url: "files:///nowhere", commands: ["echo one", "echo two", "echo three"], artifacts: ["artifact.txt"] },
          { name: "slow", url: "files:///nowhere", commands: ["echo first", "sleep 1500", "echo second", "exit 3"], artifacts: ["artifact.txt"] },
        ],
      }),
      { executor: new FakeExecutor() },
    );
    client = new CicdClient({ baseUrl: server.url, token: server.apiToken });
  });
  afterAll(() => server.close(0));

  it("GET /events sends every status change of a build as `event: build` with the build's JSON", async () => {
    const controller = new AbortController();
    const seen: { status: string; key: string }[] = [];
    const response = await server.api("/api/v1/events", { signal: controller.signal });
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    let key = "";
    const reading = collect(response.body!, (event) => {
      const build = buildSchema.parse(JSON.parse(event.data));
      expect(event.event).toBe("build");
      if (build.key === key) seen.push({ status: build.status, key: build.key });
      return build.key === key && build.status === "succeeded";
    });
    key = (await client.triggerBuild("three")).key;
    await reading;
    controller.abort();
    expect(seen.map((s) => s.status)).toEqual(["queued", "running", "succeeded"]);
  });

  it("the typed client's events() yields the builds as they change, ?target= filters", async () => {
    const controller = new AbortController();
    const statuses: string[] = [];
    const events = client.events({ target: "three", signal: controller.signal });
    // The subscription is open once the first request answered: start the iterator, then trigger.
    const first = events.next();
    const { key } = await client.triggerBuild("three");
    let next = await first;
    for (;;) {
      if (next.done) break;
      expect(next.value.target).toBe("three");
      if (next.value.key === key) statuses.push(next.value.status);
      if (next.value.key === key && next.value.status === "succeeded") break;
      next = await events.next();
    }
    controller.abort();
    expect(statuses).toEqual(["queued", "running", "succeeded"]);
  });

  it("the log as events: id = line number from 1, `event: end` with the build, Last-Event-ID: N resumes at line N+1", async () => {
    const { key } = await client.triggerBuild("three");
    await client.waitForBuild(key, { intervalMs: 50, timeoutMs: 20_000 });
    const whole = await server.api(`/api/v1/builds/${key}/log?follow=1`, { headers: { accept: "text/event-stream" } });
    expect(whole.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const raw = await whole.text();
    const logText = await client.getLog(key);
    const lines = logText.replace(/\n$/, "").split("\n");
    // Every line of the log, in order, numbered from 1; then the end.
    const events = await collect(new Response(raw).body!);
    const lineEvents = events.filter((e) => e.event === "message");
    expect(lineEvents.map((e) => e.data)).toEqual(lines);
    expect(lineEvents.map((e) => e.id)).toEqual(lines.map((_, i) => String(i + 1)));
    expect(raw).toContain(`id: ${lines.indexOf("two") + 1}\ndata: two\n\n`);
    const end = events.at(-1)!;
    expect(end.event).toBe("end");
    expect(buildSchema.parse(JSON.parse(end.data))).toMatchObject({ key, status: "succeeded" });

    const resumed = await server.api(`/api/v1/builds/${key}/log?follow=1`, { headers: { accept: "text/event-stream", "last-event-id": "2" } });
    const after = (await collect(resumed.body!)).filter((e) => e.event === "message");
    expect(after.map((e) => e.id)).toEqual(lines.slice(2).map((_, i) => String(i + 3)));
    expect(after.map((e) => e.data)).toEqual(lines.slice(2));

    // Without the Accept header: today's plain text, unchanged.
    const plain = await server.api(`/api/v1/builds/${key}/log?follow=1`);
    expect(plain.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await plain.text()).toBe(logText);

    const bad = await server.api(`/api/v1/builds/${key}/log?follow=1`, { headers: { accept: "text/event-stream", "last-event-id": "two" } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/Last-Event-ID/);
  });

  it("follows a running build: a client that drops after a line and reconnects with Last-Event-ID gets the rest once, then `end`", async () => {
    const { key } = await client.triggerBuild("slow");
    const controller = new AbortController();
    const first = await server.api(`/api/v1/builds/${key}/log?follow=1`, { headers: { accept: "text/event-stream" }, signal: controller.signal });
    const before = await collect(first.body!, (e) => e.data === "first");
    controller.abort();
    const lastId = before.at(-1)!.id!;
    expect(before.some((e) => e.event === "end")).toBe(false);
    const second = await server.api(`/api/v1/builds/${key}/log?follow=1`, { headers: { accept: "text/event-stream", "last-event-id": lastId } });
    const rest = await collect(second.body!);
    const lines = [...before, ...rest].filter((e) => e.event === "message");
    const log = (await client.getLog(key)).replace(/\n$/, "").split("\n");
    expect(lines.map((e) => e.data)).toEqual(log);
    expect(lines.map((e) => Number(e.id))).toEqual(log.map((_, i) => i + 1));
    expect(log).toContain("second");
    expect(JSON.parse(rest.at(-1)!.data)).toMatchObject({ key, status: "failed" });
  });

  it("a 50 MB log streams from the file in bounded memory; a 200 kB line comes in the same 64 KiB pieces on every read", async () => {
    const { key } = await client.triggerBuild("three");
    await client.waitForBuild(key, { intervalMs: 50, timeoutMs: 20_000 });
    const line = `${"x".repeat(99)}\n`;
    const long = "é".repeat(100_000); // 200 kB of two-byte characters: cut between characters, never inside one
    const count = 500_000;
    writeFileSync(server.manager.logPath(key), `${line.repeat(count)}${long}\nlast`);
    const base = process.memoryUsage();
    let peak = 0;
    const sample = setInterval(() => {
      const now = process.memoryUsage();
      peak = Math.max(peak, now.heapUsed + now.arrayBuffers - base.heapUsed - base.arrayBuffers);
    }, 20);
    const response = await server.api(`/api/v1/builds/${key}/log?follow=1`, { headers: { accept: "text/event-stream" } });
    let lines = 0;
    const tail: ServerSentEvent[] = [];
    for await (const event of serverSentEvents(response.body! as unknown as AsyncIterable<Uint8Array>)) {
      if (event.event === "message") {
        lines++;
        if (Number(event.id) !== lines) throw new Error(`line ${lines} came with id ${event.id}`);
        if (lines > count) tail.push(event);
      }
    }
    clearInterval(sample);
    console.log(`50 MB log as events: ${lines} lines, peak extra memory ${Math.round(peak / 1024 / 1024)} MB`);
    expect(lines).toBe(count + 5);
    expect(tail.slice(0, 4).map((e) => Buffer.byteLength(e.data))).toEqual([65_536, 65_536, 65_536, 3392]);
    expect(tail.slice(0, 4).map((e) => e.data).join("")).toBe(long);
    expect(tail.at(-1)!.data).toBe("last");
    // The file is 50 MB; holding it (or its text) would take more than that.
    expect(peak).toBeLessThan(40 * 1024 * 1024);
    const again = await server.api(`/api/v1/builds/${key}/log?follow=1`, { headers: { accept: "text/event-stream", "last-event-id": String(count + 2) } });
    const resumed = (await collect(again.body!)).filter((e) => e.event === "message");
    expect(resumed.map((e) => e.data)).toEqual(tail.slice(2).map((e) => e.data));
  }, 120_000);

  it("GET /events sends keep-alive comments while quiet, and every stream ends cleanly when the server stops", async () => {
    const closing = new AbortController();
    const app = express();
    app.use(eventsRoutes(server.manager, { closing: closing.signal, keepAliveMs: 20 }));
    const http = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => http.once("listening", resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${(http.address() as AddressInfo).port}/events`);
      const reader = response.body!.getReader();
      let text = "";
      while (!text.includes(": keep-alive")) text += new TextDecoder().decode((await reader.read()).value);
      closing.abort();
      // The response ends (a whole chunked body, no reset): the reader sees its end, not an error.
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      expect(text).toContain("retry: 3000");
      expect(text.trimEnd().endsWith(": server shutting down")).toBe(true);
    } finally {
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    }
  });
});
