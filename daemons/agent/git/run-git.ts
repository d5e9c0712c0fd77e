/**
 * Runs the agent's own git: without a shell, with no terminal prompts, and
 * hardened against anything the model could have written. Every call reads no
 * system or global configuration, runs no hook and no fsmonitor, and refuses
 * the `ext::` transport, whatever a repository's config says: command-line
 * settings (`-c`) outrank every config file. The repository config itself is
 * written by the agent (repository-config.ts) before it is used.
 */
import { execFile } from 'node:child_process';
import { CccError } from '../../shared/errors.js';

export interface GitOptions {
  cwd?: string;
  /** Environment for git: PATH and HOME, plus credential settings for pushes (see gitEnv). */
  env: Record<string, string>;
  timeoutMs?: number;
  /** Exit codes that are answers, not failures (e.g. 1 for `merge-tree` with conflicts). */
  okCodes?: number[];
}

/**
 * Settings that beat any repository config. `core.hooksPath=/dev/null` makes
 * every hook path `/dev/null/<hook>`, which cannot exist, so no hook runs
 * (post-checkout and post-commit run even with --no-verify).
 */
export const HARDENING = [
  '-c', 'core.hooksPath=/dev/null',
  '-c', 'core.fsmonitor=false',
  '-c', 'core.untrackedCache=false',
  '-c', 'protocol.ext.allow=never',
] as const;

/** The environment every agent git call gets on top of the caller's: no system or global config, no prompts. */
export const SAFE_ENV = {
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_TERMINAL_PROMPT: '0',
  GIT_ASKPASS: '',
  SSH_ASKPASS: '',
  GIT_OPTIONAL_LOCKS: '0',
} as const;

/** An error from git, with its exit code and the line that says what went wrong. */
export class GitError extends CccError {
  constructor(message: string, readonly exitCode: number | null, readonly detail: string) {
    super(message, 'git');
  }
}

/** `git --git-dir X fetch --prune …` → `fetch --prune`: the step, without paths, URLs or -c settings. */
function describe(args: string[]): string {
  const words: string[] = [];
  for (let i = 0; i < args.length && words.length < 2; i++) {
    if (args[i] === '--git-dir' || args[i] === '--work-tree' || args[i] === '-c') i++;
    else if (!args[i]!.startsWith('--') || words.length > 0) words.push(args[i]!);
  }
  return words.join(' ');
}

export function git(args: string[], opts: GitOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', [...HARDENING, ...args], {
      cwd: opts.cwd ?? '/',
      env: { ...opts.env, ...SAFE_ENV },
      timeout: opts.timeoutMs ?? 10 * 60_000,
      maxBuffer: 16 * 1024 * 1024,
    }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const code = typeof err.code === 'number' ? err.code : null;
      if (code !== null && opts.okCodes?.includes(code)) return resolve(stdout);
      const lines = (stderr || err.message).split('\n').map((l) => l.trim()).filter(Boolean);
      const detail = lines.find((l) => /^(fatal|error):/.test(l)) ?? lines.at(-1) ?? 'no output';
      reject(new GitError(`git ${describe(args)} failed: ${detail}`, code, stderr));
    });
  });
}
