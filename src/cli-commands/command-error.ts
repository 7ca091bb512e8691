/** A failure the CLI explains to the user: the message says what to do; `exitCode` 1 (error) or 2 (usage). */
export class CommandError extends Error {
  override readonly name = "CommandError";
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
  }
}

/** Wrong arguments: exit 2, with the command's usage. */
export function usageError(message: string, usage: string): CommandError {
  return new CommandError(`${message}\n\n${usage}`, 2);
}
