/**
 * Bad input from the user (a corrupt file, an unknown name, an impossible
 * budget). The CLI prints `message` as one line and exits with code 2; anything
 * else is a bug and keeps its stack trace.
 */
export class HemlockInputError extends Error {
  override readonly name = 'HemlockInputError';
  constructor(message: string) {
    super(message);
  }
}

/** Throws a HemlockInputError naming `where` (a file, field or option). */
export function inputError(where: string, problem: string): never {
  throw new HemlockInputError(`${where}: ${problem}`);
}

export function isInputError(e: unknown): e is HemlockInputError {
  return e instanceof HemlockInputError;
}
