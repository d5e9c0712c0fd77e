/** Where an operator command writes, and how wide its tables may be. */

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Columns a table may use. */
  width: number;
  now(): number;
}

/** stdout/stderr of this process; tables fit the terminal, or 80 columns when piped. */
export function processIo(): Io {
  const { stdout, stderr } = process;
  // `ccc logs -f | head` closes the pipe early: that is the reader's choice, not an error.
  if (stdout.listenerCount('error') === 0) stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') process.exit(0); else throw err; });
  return {
    out: (text) => void stdout.write(text),
    err: (text) => void stderr.write(text),
    width: stdout.isTTY ? stdout.columns || 80 : 80,
    now: Date.now,
  };
}
