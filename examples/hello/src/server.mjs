import { createServer } from "node:http";
import { greeting } from "./greeting.mjs";

const port = Number(process.env.PORT ?? 8080);
createServer((req, res) => {
  res.end(`${greeting(new URL(req.url ?? "/", "http://x").searchParams.get("name") ?? "world")}\n`);
}).listen(port, () => console.log(`hello service listening on ${port}`));
