import { errors } from "../shared/errors.js";

export const FILE_PLACEHOLDER = "{file}";

/** Quotes `value` as one word for `sh`: single quotes, with each `'` written as `'\''`. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Throws INVALID_ARGUMENT unless `template` names the artifact with `{file}`. */
export function assertCommandTemplate(template: string, field = "--command"): string {
  if (!template.trim() || !template.includes(FILE_PLACEHOLDER)) {
    throw errors.invalidArgument(field, `a command containing ${FILE_PLACEHOLDER}, e.g. "java -jar ${FILE_PLACEHOLDER}"`, template);
  }
  return template;
}

/**
 * The shell command that runs `file`: every `{file}` becomes the quoted absolute path. A
 * placeholder the user already wrapped in quotes (`'{file}'`, `"{file}"`) is replaced with its
 * quotes, so a path with spaces or quotes stays one word either way.
 */
export function renderCommand(template: string, file: string): string {
  const quoted = shellQuote(file);
  return assertCommandTemplate(template)
    .replaceAll(`'${FILE_PLACEHOLDER}'`, quoted)
    .replaceAll(`"${FILE_PLACEHOLDER}"`, quoted)
    .replaceAll(FILE_PLACEHOLDER, quoted);
}
