/** The final table of a drill run, as Markdown so it can go into docs/drills.md as printed. */
import type { DrillReport } from './harness.js';

export function reportTable(reports: readonly DrillReport[]): string {
  const rows = reports.map((r) => {
    const failed = r.checks.filter((c) => !c.ok).length;
    return [
      r.drill,
      String(r.tasks),
      String(r.states.succeeded ?? 0),
      String(r.states.failed ?? 0),
      String(r.states.cancelled ?? 0),
      String(r.tasks - (r.states.succeeded ?? 0) - (r.states.failed ?? 0) - (r.states.cancelled ?? 0)),
      `${r.checks.length - failed}/${r.checks.length}`,
      r.seconds.toFixed(1),
      failed ? 'FAIL' : 'pass',
    ];
  });
  const header = ['drill', 'tasks', 'succeeded', 'failed', 'cancelled', 'not final', 'checks', 'seconds', 'result'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}
