/**
 * A real coordinator process (`ccc coordinator` from dist/) on 127.0.0.1 for
 * the fuzz tests: a crash is a dead process, memory is its RSS, and its log
 * is a file the tests scan for secrets. Stopped after the test.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ADMIN_TOKEN, AGENT_TOKEN, onCleanup, tempDir, writeCluster, clusterConfig } from '../helpers.js';
import { SECRET } from '../github-webhooks.js';

const CLI = join(import.meta.dirname, '..', '..', 'dist', 'daemons', 'cli', 'main.js');

export interface CoordinatorProcess {
  url: string;
  pid: number;
  logFile: string;
  /** Resident set size now, in bytes (from /proc). */
  rss(): number;
  alive(): boolean;
  /** The secrets this coordinator was given, for log scans. */
  secrets: string[];
  log(): string;
}

export async function startCoordinatorProcess(extraEnv: Record<string, string> = {}): Promise<CoordinatorProcess> {
  const dir = tempDir('ccc-fuzz-');
  const logFile = join(dir, 'coordinator.log');
  // Fuzzed hellos carry made-up agent ids: let those enroll, so the fuzz reaches past the hello.
  const config = clusterConfig();
  (config.coordinator as Record<string, unknown>).allowUnlistedAgents = true;
  const env = {
    PATH: process.env.PATH, HOME: dir, CCC_CONFIG: writeCluster(dir, config), CCC_DATA_DIR: join(dir, 'coordinator'),
    CCC_LISTEN: '127.0.0.1:0', CCC_ADMIN_TOKEN: ADMIN_TOKEN, CCC_AGENT_TOKEN: AGENT_TOKEN, CCC_WEBHOOK_SECRET: SECRET, CCC_LOG_LEVEL: 'info',
    ...extraEnv,
  };
  const child = spawn(process.execPath, [CLI, 'coordinator'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = createWriteStream(logFile);
  child.stderr.pipe(out, { end: false });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    out.end();
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`coordinator did not start; see ${logFile}`)), 20_000);
    child.once('exit', (code) => reject(new Error(`coordinator exited (${code}) while starting; see ${logFile}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      out.write(`${line}\n`);
      if (!line.includes('"coordinator listening"')) return;
      clearTimeout(timer);
      resolve(String((JSON.parse(line) as { url: string }).url));
    });
  });
  return {
    url,
    pid: child.pid!,
    logFile,
    rss: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024,
    alive: () => child.exitCode === null && child.signalCode === null,
    secrets: [ADMIN_TOKEN, AGENT_TOKEN, SECRET],
    log: () => readFileSync(logFile, 'utf8'),
  };
}

const asked = Number(process.env.CCC_FUZZ_RUNS);
const long = Number.isInteger(asked) && asked > 0;

/** Runs per property: a quick default for CI, CCC_FUZZ_RUNS for a long run (docs/drills.md), at most `max` where a run is slow. */
export function fuzzRuns(quick: number, max = Infinity): number {
  return long ? Math.min(asked, max) : quick;
}

/** Per-test time limit: vitest's default for the quick runs, an hour for a long one. */
export const FUZZ_TIMEOUT_MS = long ? 3_600_000 : 60_000;

/** The fixed seed of every property, so a CI failure replays the same inputs; CCC_FUZZ_SEED picks another. */
export const FUZZ_SEED = Number(process.env.CCC_FUZZ_SEED ?? 20_251_124);
