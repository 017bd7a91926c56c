// An error a user can cause and fix: its message says what is wrong and what to do.
// Entry points print the message (no stack) and exit 2.
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

/**
 * A bug of ours, said in one line: where it happened (when known), its message, and how to get
 * the stack (ALEMBIC_GATE_DEBUG=1, which appends it).
 */
export function internalErrorText(err: unknown, during?: string): string {
  const message = err instanceof Error ? err.message : String(err);
  const stack = process.env.ALEMBIC_GATE_DEBUG === '1' && err instanceof Error && err.stack ? `\n${err.stack}` : '';
  return `internal error${during ? ` during "${during}"` : ''}: ${message} (a bug in alembic-gate: please report it with this message; ALEMBIC_GATE_DEBUG=1 adds the stack)${stack}`;
}
