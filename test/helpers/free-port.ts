import { createServer } from "node:net";

/**
 * A TCP port nobody listens on right now on 127.0.0.1 (briefly bound, then released), for a
 * server that must know its port before it starts: a child process, a manager that starts late.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.once("error", reject);
  });
}
