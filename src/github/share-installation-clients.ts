import type { Probot } from "probot";

/** At most this many installations keep a client (least recently used one dropped first). */
const MAX_INSTALLATIONS = 200;

type AuthFn = (options: Record<string, unknown>) => Promise<unknown>;

/**
 * Makes Probot reuse one authenticated client per installation. Out of the box it builds a new
 * Octokit (with its plugins and logger) for every webhook and for every `auth(installationId)`
 * call, which is most of the server's CPU per webhook. A client holds no per-request state (its
 * installation token is cached by the app's auth), so sharing it is safe, and it lets Octokit's
 * throttling see all requests of an installation together. Call once, before any webhook.
 */
export async function shareInstallationClients(probot: Probot): Promise<void> {
  const app = (await probot.auth()) as unknown as { auth: AuthFn };
  const original = app.auth.bind(app);
  const clients = new Map<string, Promise<unknown>>();
  const cached = (key: string, make: () => Promise<unknown>) => {
    let client = clients.get(key);
    if (client) {
      clients.delete(key);
    } else {
      client = make();
      client.catch(() => clients.delete(key));
    }
    clients.set(key, client);
    if (clients.size > MAX_INSTALLATIONS) clients.delete(clients.keys().next().value!);
    return client;
  };
  app.auth = (options) => {
    if (options.type === "installation" && typeof options.installationId === "number" && !options.refresh) {
      return cached(`installation:${options.installationId}`, () => original(options));
    }
    if (options.type === "event-octokit") {
      const id = (options.event as { payload?: { installation?: { id?: number } } }).payload?.installation?.id;
      return cached(id === undefined ? "unauthenticated" : `event:${id}`, () => original(options));
    }
    return original(options);
  };
}
