/**
 * What the Claude Code CLI can reach during one task, put together: a fresh
 * home and temp, a model relay session (a per-task token instead of the key),
 * an egress proxy session (the allowlist), and — unless the operator turned it
 * off — the bubblewrap sandbox around the whole process. The executor asks for
 * a run and gets the command line and environment to start, and what to close.
 */
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { EgressRule } from './egress/allowlist.js';
import { openEgressSession, type EgressSession } from './egress/egress-proxy.js';
import type { ModelRelay, RelaySession } from './relay/model-relay.js';
import type { Usage } from './relay/usage-meter.js';
import { bwrapArgs, INSIDE } from './sandbox/bwrap-command.js';
import type { SandboxProbe } from './sandbox/probe.js';
import { freshTaskDirs, type TaskDirs } from './sandbox/task-dirs.js';

export interface ModelReachOptions {
  relay: ModelRelay;
  /** agent.sandbox: `off` only when the operator said so. */
  sandbox: 'on' | 'off';
  probe: SandboxProbe;
  dataDir: string;
  egress: readonly EgressRule[];
  /** Read-only inside the sandbox besides the system: the cached clones (git alternates). */
  readOnly: string[];
}

export interface ReachRequest {
  taskId: number;
  attempt: number;
  workDir: string;
  binary: string;
  args: string[];
  /** The CLI's environment without any credential; the relay token and proxy are added here. */
  env: Record<string, string>;
  extraEgress: readonly EgressRule[];
  onRefused(status: number): void;
  onDenied(target: string): void;
}

export interface OpenedRun {
  program: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  confined: boolean;
  usage: Usage;
  denied(): number;
  close(): Promise<void>;
}

export class ModelReach {
  constructor(private readonly opts: ModelReachOptions) {}

  /** Why this agent must not run a task (one that may run Bash, or any), or undefined when it may. */
  refusal(allowsBash: boolean): string | undefined {
    if (!this.opts.relay.hasCredential) return 'no model credential: set ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN in the agent\'s env file';
    if (allowsBash && this.opts.sandbox === 'on' && !this.opts.probe.ok) {
      return `cannot confine the CLI (${this.opts.probe.reason}) and the profile allows Bash: ${this.opts.probe.fix}`;
    }
    return undefined;
  }

  /** Whether runs are confined, for status lines. */
  get confined(): boolean {
    return this.opts.sandbox === 'on' && this.opts.probe.ok;
  }

  async open(req: ReachRequest): Promise<OpenedRun> {
    const dirs = freshTaskDirs(this.opts.dataDir, req.taskId, req.attempt);
    const confined = this.confined;
    let relay: RelaySession | undefined;
    let egress: EgressSession | undefined;
    const close = async () => {
      await Promise.allSettled([relay?.close(), egress?.close()]);
      dirs.remove();
    };
    try {
      relay = await this.opts.relay.open({ listen: confined ? { socketPath: join(dirs.sockets, 'model.sock') } : { loopback: true }, onRefused: req.onRefused });
      egress = await openEgressSession({
        listen: confined ? { socketPath: join(dirs.sockets, 'egress.sock') } : { loopback: true },
        rules: [...this.opts.egress, ...req.extraEgress],
        onDenied: req.onDenied,
      });
      const modelPort = confined ? INSIDE.modelPort : portOf(relay);
      const egressPort = confined ? INSIDE.egressPort : portOf(egress);
      const env = cliEnv(req.env, dirs, relay.token, modelPort, egressPort);
      const base = { env, cwd: req.workDir, confined, usage: relay.usage, denied: () => egress?.denied ?? 0, close };
      if (!confined) return { ...base, program: req.binary, args: req.args };
      const program = realpathSync(req.binary);
      const uid = process.getuid?.() ?? 0;
      const gid = process.getgid?.() ?? 0;
      return {
        ...base,
        program: 'bwrap',
        args: bwrapArgs({
          program, args: req.args, workDir: req.workDir, home: dirs.home, tmp: dirs.tmp,
          readOnly: [packageDirOf(program), ...this.opts.readOnly.filter((d) => existsSync(d))],
          modelSocket: join(dirs.sockets, 'model.sock'), egressSocket: join(dirs.sockets, 'egress.sock'),
          uid: uid === 0 ? 65534 : uid, gid: uid === 0 ? 65534 : gid,
        }),
        env: { ...env, TMPDIR: '/tmp' },
      };
    } catch (err) {
      await close();
      throw err;
    }
  }
}

function portOf(session: { listening: { port: number } | { socketPath: string } }): number {
  return 'port' in session.listening ? session.listening.port : 0;
}

/** The CLI's environment: the relay as its API with the task's token, the proxy for everything else. */
function cliEnv(base: Record<string, string>, dirs: TaskDirs, token: string, modelPort: number, egressPort: number): Record<string, string> {
  const proxy = `http://127.0.0.1:${egressPort}`;
  return {
    ...base,
    HOME: dirs.home,
    TMPDIR: dirs.tmp,
    ANTHROPIC_BASE_URL: `http://127.0.0.1:${modelPort}`,
    ANTHROPIC_API_KEY: token,
    HTTPS_PROXY: proxy, HTTP_PROXY: proxy, https_proxy: proxy, http_proxy: proxy,
    NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost',
  };
}

/** The directory of the CLI's own package (the nearest package.json above the binary), not the package root above it. */
export function packageDirOf(program: string): string {
  let dir = dirname(program);
  for (let i = 0; i < 3; i++, dir = dirname(dir)) if (existsSync(join(dir, 'package.json'))) return dir;
  return dirname(program);
}
