/**
 * `npm run drill`: fault drills against the local cluster (real processes on
 * 127.0.0.10–14). Each drill ends with the same audit: every task in exactly
 * one final state, none lost, no secret in any log or output. Prints the
 * counts per drill and a final table; exits 1 if any check failed.
 *
 *   npm run drill                          every drill, 300 tasks in the coordinator-kill run
 *   npm run drill -- --quick               fewer tasks (CI)
 *   npm run drill -- --tasks 1000 --only coordinator-kill,webhook-storm --keep
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentKill } from './drill/agent-kill.js';
import { agentStop } from './drill/agent-stop.js';
import { coordinatorKill } from './drill/coordinator-kill.js';
import { diskFull } from './drill/disk.js';
import { gitPlanting } from './drill/git-planting.js';
import { impostor } from './drill/impostor.js';
import type { DrillOptions, DrillReport } from './drill/harness.js';
import { modelFaults } from './drill/model-faults.js';
import { sandboxEscapes } from './drill/sandbox-escapes.js';
import { reportTable } from './drill/table.js';
import { webhookStorm } from './drill/webhook-storm.js';

const DRILLS: Record<string, (opts: DrillOptions) => Promise<DrillReport>> = {
  'coordinator-kill': coordinatorKill,
  'agent-kill': agentKill,
  impostor,
  'agent-stop': agentStop,
  'model-faults': modelFaults,
  'sandbox-escapes': sandboxEscapes,
  disk: diskFull,
  'webhook-storm': webhookStorm,
  'git-planting': gitPlanting,
};

interface Args { quick: boolean; tasks: number | undefined; only: string[]; keep: boolean }

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, tasks: undefined, only: [], keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') args.quick = true;
    else if (a === '--keep') args.keep = true;
    else if (a.startsWith('--tasks')) {
      args.tasks = Number(value());
      if (!Number.isInteger(args.tasks) || args.tasks < 4 || args.tasks > 5000) usage('--tasks takes a whole number from 4 to 5000');
    } else if (a.startsWith('--only')) {
      args.only = value().split(',').filter(Boolean);
      const unknown = args.only.filter((d) => !(d in DRILLS));
      if (unknown.length) usage(`unknown drill ${unknown.join(', ')}`);
    } else usage(`unknown option ${a}`);
  }
  return args;
}

function usage(problem: string): never {
  process.stderr.write(`drill: ${problem}\nusage: npm run drill -- [--quick] [--tasks N] [--only ${Object.keys(DRILLS).join(',')}] [--keep]\n`);
  process.exit(2);
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const root = mkdtempSync(join(tmpdir(), 'ccc-drill-'));
  const names = args.only.length ? args.only : Object.keys(DRILLS);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(`drill: ${names.length} drills${args.quick ? ' (quick)' : ''}; state in ${root}`);
  const reports: DrillReport[] = [];
  for (const name of names) {
    say(`\n== ${name}`);
    const opts: DrillOptions = { tasks: args.tasks ?? (args.quick ? 60 : 300), quick: args.quick, dir: join(root, name), say };
    const started = Date.now();
    try {
      reports.push(await DRILLS[name]!(opts));
    } catch (err) {
      say(`  FAIL ${name} stopped: ${(err as Error).stack ?? String(err)}`);
      reports.push({ drill: name, tasks: 0, states: {}, checks: [{ name: 'ran to the end', ok: false, detail: (err as Error).message }], facts: [], seconds: (Date.now() - started) / 1000 });
    }
  }
  say(`\n${reportTable(reports)}`);
  const failed = reports.flatMap((r) => r.checks.filter((c) => !c.ok).map((c) => `${r.drill}: ${c.name}`));
  say(failed.length ? `\ndrill: ${failed.length} checks failed:\n  ${failed.join('\n  ')}` : `\ndrill: all ${reports.reduce((n, r) => n + r.checks.length, 0)} checks passed`);
  if (args.keep) say(`drill: kept ${root}`);
  else rmSync(root, { recursive: true, force: true });
  return failed.length ? 1 : 0;
}

main().then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`drill: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
