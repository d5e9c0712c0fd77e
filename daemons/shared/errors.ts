/** The one error type for problems a user can fix: the CLI prints its message, never a stack. */
export class CccError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'CccError';
  }
}
