import type { Server } from "node:http";
import type { Logger } from "../shared/logger.js";

/**
 * For development, as Probot does: with `WEBHOOK_PROXY_URL` (a smee.io channel), GitHub sends
 * webhooks to the channel and a Smee client here forwards each to this server's own webhook
 * endpoint on 127.0.0.1, where the gate verifies it like any other. Loaded only when set; stops
 * with the server.
 */
export async function forwardFromWebhookProxy(source: string, server: Server, port: number, path: string, logger: Logger): Promise<void> {
  const { SmeeClient } = await import("smee-client");
  const client = new SmeeClient({
    source,
    target: `http://127.0.0.1:${port}${path}`,
    logger: { info: (...words: unknown[]) => logger.info(words.join(" ")), error: (...words: unknown[]) => logger.warn(words.join(" ")) },
  });
  await client.start();
  server.once("close", () => void client.stop().catch(() => undefined));
  logger.info(`forwarding webhooks from ${new URL(source).origin} (WEBHOOK_PROXY_URL) to ${path}`);
}
