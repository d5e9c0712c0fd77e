/**
 * The bubblewrap command line that confines one run of the Claude Code CLI,
 * whole (file tools, Bash, hooks, MCP servers): own user, PID, network, IPC and
 * UTS namespaces, a new session, killed with the agent; a read-only system
 * (system-mounts.ts) and the CLI's own package directory; writable only the
 * task's directory, its home and its temp. The model relay and the egress proxy
 * are unix sockets bound in at /run/ccc and bridged by socat to loopback ports
 * inside, because inside there is no network but `lo`.
 */
import { systemMounts } from './system-mounts.js';

/** Loopback ports inside the sandbox (its own network namespace, so they cannot clash). */
export const INSIDE = { modelPort: 39171, egressPort: 39172, socketDir: '/run/ccc' } as const;

export interface ConfinedRun {
  /** The CLI's program and arguments, as run inside. */
  program: string;
  args: string[];
  /** The task's directory (worktree and its own .git): writable, and the working directory. */
  workDir: string;
  home: string;
  /** Bound as /tmp inside. */
  tmp: string;
  /** Read-only extras: the CLI's package directory, the cached clones (git alternates). */
  readOnly: string[];
  modelSocket: string;
  egressSocket: string;
  /** The user id inside; the agent's own when it is not root. */
  uid: number;
  gid: number;
}

/** The script inside: bridge the two sockets to loopback ports, wait until they answer, then become the CLI. */
const LAUNCHER = [
  'm=$1; e=$2; shift 2',
  `socat TCP-LISTEN:$m,bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:${INSIDE.socketDir}/model.sock 2>/dev/null &`,
  `socat TCP-LISTEN:$e,bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:${INSIDE.socketDir}/egress.sock 2>/dev/null &`,
  'for p in $m $e; do for _ in $(seq 250); do (: >/dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.02; done; done',
  'exec "$@"',
].join('\n');

export function bwrapArgs(run: ConfinedRun): string[] {
  const args = [
    '--unshare-all', '--die-with-parent', '--new-session',
    '--uid', String(run.uid), '--gid', String(run.gid),
    ...systemMounts(),
    '--dev', '/dev', '--proc', '/proc',
    '--bind', run.tmp, '/tmp',
    '--dir', INSIDE.socketDir,
    '--ro-bind', run.modelSocket, `${INSIDE.socketDir}/model.sock`,
    '--ro-bind', run.egressSocket, `${INSIDE.socketDir}/egress.sock`,
  ];
  for (const dir of run.readOnly) args.push('--ro-bind', dir, dir);
  args.push('--bind', run.home, run.home, '--bind', run.workDir, run.workDir, '--chdir', run.workDir);
  args.push('--', '/bin/bash', '-c', LAUNCHER, 'ccc-sandbox', String(INSIDE.modelPort), String(INSIDE.egressPort), run.program, ...run.args);
  return args;
}
