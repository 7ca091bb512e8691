import { z } from "zod";
import { configSchema } from "./schema.js";

/** The JSON Schema of cicd.yml (for editors: `# yaml-language-server: $schema=…`), as text. */
export function renderJsonSchema(): string {
  const schema = z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" });
  return `${JSON.stringify({ ...schema, title: "cicd.yml", description: "Configuration of the cicd server." }, null, 2)}\n`;
}
