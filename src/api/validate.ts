import { z } from "zod";
import { errors } from "../shared/errors.js";

/** Parses `input` with `schema`; a failure is a 400 naming the field and what was expected. */
export function validate<T extends z.core.$ZodType>(schema: T, input: unknown, where = "body"): z.output<T> {
  const result = z.safeParse(schema, input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.length ? issue.path.join(".") : where;
  const message = issue.code === "unrecognized_keys" ? `known fields only (unknown: ${issue.keys.join(", ")})` : issue.message.replace(/^Invalid input: expected /i, "");
  throw errors.invalidArgument(field, message.replace(/^expected /, ""));
}
