/**
 * sd_notify against a real NOTIFY_SOCKET: the notifier with the real systemd-notify binary, and
 * the real `ccc coordinator` / `ccc agent` processes as systemd would see them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createNotifier, watchdogInterval } from '../../daemons/shared/notify.js';
import { packageRoot } from '../../daemons/shared/package-root.js';
import { ADMIN_TOKEN, AGENT_TOKEN, memoryLogger, onCleanup, tempDir, writeCluster } from '../helpers.js';
import { canTestNotify, notifySocket } from './notify-socket.js';

const CLI = join(packageRoot, 'dist', 'daemons', 'cli', 'main.js');

describe('watchdogInterval', () => {
  it('is half of WATCHDOG_USEC in ms, and only for the process WATCHDOG_PID names', () => {
    expect(watchdogInterval({ WATCHDOG_USEC: '30000000' }, 42)).toBe(15_000);
    expect(watchdogInterval({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42)).toBe(15_000);
    expect(watchdogInterval({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, 42)).toBeUndefined();
    expect(watchdogInterval({}, 42)).toBeUndefined();
    expect(watchdogInterval({ WATCHDOG_USEC: 'soon' }, 42)).toBeUndefined();
  });
});

describe('notifier without systemd', () => {
  it('sends nothing when NOTIFY_SOCKET is unset', async () => {
    const sent: string[][] = [];
    const n = createNotifier({ env: { WATCHDOG_USEC: '1000' }, log: memoryLogger().log, send: async (f) => { sent.push(f); } });
    n.ready('up');
    n.status('x');
    n.stopping();
    await n.close();
    expect(n.enabled).toBe(false);
    expect(sent).toEqual([]);
  });

  it('collapses a burst of STATUS= into the latest, skips repeats, and warns once when sending fails', async () => {
    const sent: string[][] = [];
    let fail = false;
    const { log, lines } = memoryLogger();
    const n = createNotifier({ env: { NOTIFY_SOCKET: '/nonexistent' }, log, send: async (f) => { if (fail) throw new Error('boom'); sent.push(f); } });
    n.ready('starting');
    for (let i = 0; i < 50; i++) n.status(`step ${i}`);
    await n.close();
    n.status('step 49');
    n.status('multi\nline');
    await n.close();
    expect(sent).toEqual([['READY=1', 'STATUS=starting'], ['STATUS=step 49'], ['STATUS=multi line']]);
    fail = true;
    n.status('a');
    n.status('b');
    await n.close();
    n.status('c');
    await n.close();
    expect(lines.filter((l) => l.includes('cannot notify systemd'))).toHaveLength(1);
  });
});

describe.skipIf(!canTestNotify)('sd_notify over a real NOTIFY_SOCKET (systemd-notify + a unix datagram socket)', () => {
  it('delivers READY=1 with STATUS=, WATCHDOG=1 at half of WATCHDOG_USEC, and STOPPING=1', async () => {
    const sock = await notifySocket();
    const n = createNotifier({ env: { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '200000', PATH: process.env.PATH }, log: memoryLogger().log });
    expect(n.watchdogMs).toBe(100);
    n.ready('listening on 127.0.0.1:1 · 0 agents online');
    await sock.waitFor((m) => m === 'READY=1\nSTATUS=listening on 127.0.0.1:1 · 0 agents online');
    const started = Date.now();
    await sock.waitFor(() => sock.messages.filter((m) => m === 'WATCHDOG=1').length >= 4);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    n.stopping('stopping (SIGTERM)');
    await n.close();
    expect(sock.messages).toContain('STOPPING=1\nSTATUS=stopping (SIGTERM)');
  });

  it('the daemons: coordinator READY once listening, agent READY once registered, live STATUS=, watchdog, STOPPING=1 on SIGTERM', async () => {
    const dir = tempDir('ccc-notify-daemons-');
    const config = writeCluster(dir);
    const base = { PATH: process.env.PATH, CCC_CONFIG: config, CCC_ADMIN_TOKEN: ADMIN_TOKEN, CCC_AGENT_TOKEN: AGENT_TOKEN, CCC_LOG_LEVEL: 'warn' };
    const start = (args: string[], env: Record<string, string | undefined>): ChildProcess => {
      const child = spawn(process.execPath, [CLI, ...args], { env: { ...base, ...env }, stdio: 'ignore' });
      onCleanup(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
      return child;
    };
    const exited = (c: ChildProcess) => new Promise<number | null>((r) => (c.exitCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code))));

    const cs = await notifySocket();
    const coordinator = start(['coordinator'], { CCC_LISTEN: '127.0.0.1:0', CCC_DATA_DIR: join(dir, 'coordinator'), NOTIFY_SOCKET: cs.path, WATCHDOG_USEC: '400000' });
    const ready = await cs.waitFor((m) => m.startsWith('READY=1'));
    const port = /^READY=1\nSTATUS=listening on 127\.0\.0\.1:(\d+) · 0 agents online · 0 queued · 0 running$/.exec(ready)?.[1];
    expect(port, ready).toBeDefined();
    await cs.waitFor((m) => m === 'WATCHDOG=1');

    const as = await notifySocket();
    const agent = start(['agent'], {
      CCC_AGENT_ID: 'backend', CCC_COORDINATOR_URL: `http://127.0.0.1:${port}`, CCC_DATA_DIR: join(dir, 'agent'), NOTIFY_SOCKET: as.path, WATCHDOG_USEC: '400000',
    });
    expect(await as.waitFor((m) => m.startsWith('READY=1'))).toBe(`READY=1\nSTATUS=connected to 127.0.0.1:${port} · 0/2 running`);
    expect(as.messages.indexOf(`STATUS=connecting to 127.0.0.1:${port} · 0/2 running`)).toBeLessThan(as.messages.findIndex((m) => m.startsWith('READY=1')));
    await as.waitFor((m) => m === 'WATCHDOG=1');
    await cs.waitFor((m) => m.includes('· 1 agent online ·'));

    agent.kill('SIGTERM');
    expect(await exited(agent)).toBe(0);
    expect(as.messages).toContain('STOPPING=1\nSTATUS=stopping (SIGTERM)');
    expect(as.messages.some((m) => m.startsWith('STATUS=') && m.endsWith(' · 0/2 running · draining')), as.messages.join(' | ')).toBe(true);
    await cs.waitFor((m) => m.includes('· 0 agents online ·') && cs.messages.indexOf(m) > cs.messages.findIndex((x) => x.includes('· 1 agent online ·')));

    coordinator.kill('SIGTERM');
    expect(await exited(coordinator)).toBe(0);
    expect(cs.messages).toContain('STOPPING=1\nSTATUS=stopping (SIGTERM)');
  });
});
