import type { TestServer } from "../helpers/server.js";

/** Signs in at /login with the API token, as the login form does; returns the session cookie (`name=value`). */
export async function signInCookie(server: TestServer): Promise<string> {
  const signIn = await fetch(`${server.url}/login`, {
    method: "POST",
    redirect: "manual",
    headers: { origin: server.url, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: server.apiToken, next: "/" }),
  });
  return (signIn.headers.get("set-cookie") ?? "").split(";")[0]!;
}
