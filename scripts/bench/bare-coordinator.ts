/**
 * The coordinator as `startCoordinator` alone, without what `ccc coordinator`
 * (daemons/cli/daemons.ts) adds around it: the systemd notifier and its
 * status line, recomputed on every task change. The bench runs the dispatch
 * and webhook figures against both, to show what that hook costs.
 */
import { startCoordinator } from '../../daemons/coordinator/server.js';
import { loadSettings } from '../../daemons/shared/config.js';
import { createLogger } from '../../daemons/shared/log.js';

const settings = loadSettings(process.env, 'coordinator');
const log = createLogger({ level: settings.logLevel, name: 'ccc-coordinator', secrets: [process.env.CCC_ADMIN_TOKEN ?? '', process.env.CCC_AGENT_TOKEN ?? ''] });
const coordinator = await startCoordinator(settings, log);
let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (stopping) process.exit(1);
    stopping = true;
    coordinator.close().then(() => { log.flush(); process.exit(0); }, () => process.exit(1));
  });
}
