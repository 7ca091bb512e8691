// Writes schema/cicd.schema.json from the zod schema (src/config/schema.ts). Run `npm run schema`
// after changing the schema; test/config/schema-file.test.ts fails while the file is stale.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { renderJsonSchema } from "../src/config/json-schema.js";

const file = path.resolve(import.meta.dirname, "../schema/cicd.schema.json");
mkdirSync(path.dirname(file), { recursive: true });
writeFileSync(file, renderJsonSchema());
console.log(`wrote ${path.relative(process.cwd(), file)}`);
