/**
 * Runs the real `claude` CLI once, headless, against a Messages API URL (the
 * rehearsal model): the same flags and minimal environment the agent uses.
 * For the CLI tests and scripts/check-claude-cli.mjs, not for production runs.
 */
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type StreamEvent = Record<string, unknown> & { type?: string; subtype?: string };

export interface ClaudeRunOptions {
  binary: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Written to stdin, which is then closed. */
  prompt: string;
  /** A guard, not an expectation: past it the whole group is killed and `killedAfterLimit` is set. */
  limitMs: number;
  onEvent?: (event: StreamEvent) => void;
  uid?: number;
  gid?: number;
}

export interface ClaudeRunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  events: StreamEvent[];
  /** stdout lines that were not JSON objects. */
  noise: string[];
  stderr: string;
  killedAfterLimit: boolean;
}

export interface ClaudeRun {
  done: Promise<ClaudeRunResult>;
  /** Signals the CLI's process group (as the agent's supervisor does). */
  signal(signal: NodeJS.Signals): void;
}

/** The environment the spec gives the CLI: PATH, HOME, the API URL and a dummy key, no updater, no extra traffic. */
export function rehearsalEnv(opts: { path: string; home: string; baseUrl: string; apiKey?: string }): Record<string, string> {
  return {
    PATH: opts.path,
    HOME: opts.home,
    ANTHROPIC_BASE_URL: opts.baseUrl,
    ANTHROPIC_API_KEY: opts.apiKey ?? 'dummy',
    DISABLE_AUTOUPDATER: '1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  };
}

/** A git repository with one commit, as a task's worktree would be. */
export function initRepo(dir: string): void {
  const git = (...args: string[]) => execFileSync('git', ['-C', dir, ...args], { stdio: 'ignore' });
  git('init', '-q', '-b', 'main');
  writeFileSync(join(dir, 'README.md'), '# rehearsal\n');
  git('add', 'README.md');
  git('-c', 'user.name=ccc', '-c', 'user.email=ccc@localhost', 'commit', '-q', '-m', 'initial');
}

export function runClaude(opts: ClaudeRunOptions): ClaudeRun {
  const child = spawn(opts.binary, opts.args, {
    cwd: opts.cwd, env: opts.env, detached: true, stdio: ['pipe', 'pipe', 'pipe'], uid: opts.uid, gid: opts.gid,
  });
  const signalGroup = (signal: NodeJS.Signals) => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // The group is gone.
    }
  };
  const send = (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) signalGroup(signal);
  };
  const events: StreamEvent[] = [];
  const noise: string[] = [];
  let stderr = '';
  let killedAfterLimit = false;
  child.stdin.on('error', () => {}); // The CLI may exit before reading its prompt (bad arguments).
  child.stdin.end(opts.prompt);
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    let event: unknown;
    try {
      event = JSON.parse(line);
    } catch {
      if (line.trim()) noise.push(line);
      return;
    }
    if (event === null || typeof event !== 'object' || Array.isArray(event)) return void noise.push(line);
    events.push(event as StreamEvent);
    opts.onEvent?.(event as StreamEvent);
  });
  const limit = setTimeout(() => {
    killedAfterLimit = true;
    send('SIGKILL');
  }, opts.limitMs);
  const done = new Promise<ClaudeRunResult>((resolve, reject) => {
    child.once('error', (err) => { clearTimeout(limit); reject(err); });
    // 'close' waits for stdout to end, so every line has been seen.
    child.once('close', (code, signal) => {
      clearTimeout(limit);
      signalGroup('SIGKILL'); // Anything the CLI left behind in its group.
      resolve({ code, signal, events, noise, stderr, killedAfterLimit });
    });
  });
  return { done, signal: send };
}

/** The last `result` event of a run, if there is one. */
export function resultOf(events: readonly StreamEvent[]): StreamEvent | undefined {
  return [...events].reverse().find((e) => e.type === 'result');
}
