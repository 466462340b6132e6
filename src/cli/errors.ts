/** A mistake in how the command was called: printed with a hint, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'USAGE';
}

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** `--strict` exit codes for CI gates. */
export const EXIT_STRICT = { degraded: 3, invariant: 4 } as const;
