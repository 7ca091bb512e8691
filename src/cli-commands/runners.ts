import { parse, type Command } from "./context.js";
import { age, json, table, write } from "./output.js";

const usage = `Usage: cicd runners [--target T] [--json]

Lists runners: what each runs now and what it is doing.`;

/** `cicd runners [--json]`. */
export const runners: Command = {
  usage,
  async run(context, args) {
    const { values } = parse(args, { target: { type: "string" }, json: { type: "boolean" } }, [], usage);
    const list = await context.client.listRunners(values.target);
    if (values.json) {
      await write(context.stdout, json(list));
      return 0;
    }
    if (list.length === 0) {
      await write(context.stderr, "no runners\n");
      return 0;
    }
    const rows = list.map((r) => [r.id, r.target, r.phase && r.state === "running" ? `${r.state} (${r.phase})` : r.state, r.build ?? "-", String(r.restarts), age(r.createdAt)]);
    await write(context.stdout, table(["ID", "TARGET", "STATE", "BUILD", "RESTARTS", "AGE"], rows));
    return 0;
  },
};
