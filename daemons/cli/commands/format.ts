/** Plain aligned columns that fit a terminal (80 columns unless it is wider), and short times. */

export interface Column<T> {
  header: string;
  cell: (row: T) => string;
  align?: 'right';
  /** The one column that is cut (with …) when the table is too wide, e.g. a title. */
  flex?: boolean;
}

const GAP = '  ';
const MIN_FLEX = 12;

/**
 * Rows under an upper-case header, two spaces between columns, no borders.
 * @example table(tasks, [{ header: 'ID', cell: (t) => String(t.id), align: 'right' }, { header: 'TITLE', cell: (t) => t.title, flex: true }])
 */
export function table<T>(rows: readonly T[], columns: ReadonlyArray<Column<T>>, width = 80): string {
  const cells = rows.map((row) => columns.map((c) => oneLine(c.cell(row))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const flex = columns.findIndex((c) => c.flex);
  const total = widths.reduce((a, b) => a + b, 0) + GAP.length * (columns.length - 1);
  if (flex >= 0 && total > width) widths[flex] = Math.max(MIN_FLEX, columns[flex]!.header.length, widths[flex]! - (total - width));
  const line = (values: string[]) =>
    values.map((v, i) => {
      const w = widths[i]!;
      const text = v.length > w ? `${v.slice(0, w - 1)}…` : v;
      return columns[i]!.align === 'right' ? text.padStart(w) : i === values.length - 1 ? text : text.padEnd(w);
    }).join(GAP).trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n') + '\n';
}

/** Label/value lines with the values aligned, e.g. the cluster summary. */
export function fields(pairs: ReadonlyArray<[string, string]>): string {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n';
}

/** How long ago `iso` was, in the largest whole unit: 42s, 5m, 3h, 2d. */
export function age(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** Local wall-clock time of day, HH:MM:SS. */
export function clock(iso: string): string {
  const d = new Date(iso);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** Local date and time, YYYY-MM-DD HH:MM:SS. */
export function dateTime(iso: string): string {
  const d = new Date(iso);
  const date = [d.getFullYear(), d.getMonth() + 1, d.getDate()].map((n) => String(n).padStart(2, '0')).join('-');
  return `${date} ${clock(iso)}`;
}

/** Pretty JSON with a final newline, for --json. */
export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}
