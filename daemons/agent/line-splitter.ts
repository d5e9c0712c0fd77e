/** Splits streamed text into lines: partial lines wait for their end; a line past the cap is dropped, not buffered without bound. */

/** Lines longer than this are skipped rather than buffered without bound. */
export const MAX_LINE_BYTES = 8 * 1024 * 1024;

/** Splits a byte stream into lines; a line over the cap is reported once as dropped. */
export class LineSplitter {
  private buffer = '';
  private dropping = false;

  constructor(private readonly onLine: (line: string) => void, private readonly onDropped: () => void = () => {}) {}

  push(chunk: string): void {
    let text = this.buffer + chunk;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n')) {
      const line = text.slice(0, nl);
      text = text.slice(nl + 1);
      if (this.dropping) this.dropping = false;
      else this.onLine(line);
    }
    if (text.length > MAX_LINE_BYTES) {
      if (!this.dropping) this.onDropped();
      this.dropping = true;
      text = '';
    }
    this.buffer = text;
  }

  end(): void {
    if (this.buffer && !this.dropping) this.onLine(this.buffer);
    this.buffer = '';
  }
}
