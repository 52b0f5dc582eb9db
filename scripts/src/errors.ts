/**
 * A failure the user can act on: printed as one line (`error: ...`) without a stack trace, exit code 1.
 * Everything a command reports to the user goes through this type; other errors are bugs.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** The first line of any thrown value's message, for one-line reports. */
export function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0]!.trim();
}
