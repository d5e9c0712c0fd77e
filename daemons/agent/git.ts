/** Runs git without a shell, with no terminal prompts and a clear error naming the command that failed. */
import { execFile } from 'node:child_process';
import { CccError } from '../shared/errors.js';

export interface GitOptions {
  cwd?: string;
  /** Environment for git: PATH and HOME, plus credential settings for pushes. */
  env: Record<string, string>;
  timeoutMs?: number;
}

/** `git --git-dir X fetch --prune …` → `fetch --prune`: the step, without paths, URLs or -c settings. */
function describe(args: string[]): string {
  const words: string[] = [];
  for (let i = 0; i < args.length && words.length < 2; i++) {
    if (args[i] === '--git-dir' || args[i] === '-c') i++;
    else if (!args[i]!.startsWith('--') || words.length > 0) words.push(args[i]!);
  }
  return words.join(' ');
}

export function git(args: string[], opts: GitOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', args, {
      cwd: opts.cwd,
      env: { ...opts.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '', SSH_ASKPASS: '' },
      timeout: opts.timeoutMs ?? 10 * 60_000,
      maxBuffer: 16 * 1024 * 1024,
    }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const lines = (stderr || err.message).split('\n').map((l) => l.trim()).filter(Boolean);
      const detail = lines.find((l) => /^(fatal|error):/.test(l)) ?? lines.at(-1) ?? 'no output';
      reject(new CccError(`git ${describe(args)} failed: ${detail}`, 'git'));
    });
  });
}
