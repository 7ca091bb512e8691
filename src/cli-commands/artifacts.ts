import { parse, type Command } from "./context.js";
import { knownTargets } from "./known-targets.js";
import { age, bytes, json, table, write } from "./output.js";

const usage = `Usage: cicd artifacts TARGET [--json]

Lists the target's published builds (its builds.json), newest first: good or bad, ref,
commit and files. --json prints builds.json as the server has it (oldest first).`;

/** `cicd artifacts TARGET [--json]`. */
export const artifacts: Command = {
  usage,
  async run(context, args) {
    const { values, positionals } = parse(args, { json: { type: "boolean" } }, ["TARGET"], usage);
    const target = positionals[0]!;
    const document = await knownTargets(context, () => context.client.getArtifacts(target));
    if (values.json) {
      await write(context.stdout, json(document));
      return 0;
    }
    if (document.builds.length === 0) {
      await write(context.stderr, `no published builds of ${target} yet\n`);
      return 0;
    }
    const rows = [...document.builds].reverse().map((b) => {
      const files = b.artifacts.map((name) => (b.sizes?.[name] === undefined ? name : `${name} (${bytes(b.sizes[name]!)})`)).join(", ");
      return [b.key, b.status, b.ref ?? "-", b.commit?.slice(0, 12) ?? "-", age(b.createdAt), files];
    });
    await write(context.stdout, table(["KEY", "STATUS", "REF", "COMMIT", "AGE", "FILES"], rows));
    return 0;
  },
};
