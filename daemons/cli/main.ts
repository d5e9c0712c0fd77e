#!/usr/bin/env node
/**
 * `ccc`: the operator CLI and the entry point systemd and `ccc up` use to run the daemons.
 * A bare `ccc coordinator` or `ccc agent` (what the systemd units run) loads only that daemon's
 * modules — not yargs, the operator commands or the other daemon: an idle daemon's memory is
 * mostly the code it has loaded (docs/performance.md).
 */
const DAEMONS = new Set(['coordinator', 'agent']);
const args = process.argv.slice(2);

if (args.length === 1 && DAEMONS.has(args[0]!)) {
  const daemons = await import('./daemons.js');
  const run = args[0] === 'coordinator' ? daemons.runCoordinator : daemons.runAgent;
  run(process.env).catch(async (err: unknown) => (await import('./cli.js')).exitWith(err));
} else {
  (await import('./cli.js')).run();
}
