// An error a user can cause and fix: its message says what is wrong and what to do.
// Entry points print the message (no stack) and exit 2.
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}
