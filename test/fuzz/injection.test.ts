/**
 * Option and path injection through repository names, issue titles and ids:
 * into the API (validation), and into the agent's git workspaces, where git
 * runs through a shim that records every argument it is given. No input may
 * become a git option, leave the workspace root, or make the API fail.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Workspaces, branchName } from '../../daemons/agent/git/workspaces.js';
import { ensureDemoRepo } from '../../daemons/cli/demo-repo.js';
import { ADMIN_TOKEN, api, memoryLogger, startTestCoordinator, tempDir, testEnv } from '../helpers.js';
import { FUZZ_SEED, FUZZ_TIMEOUT_MS, fuzzRuns } from './coordinator-process.js';
import { NASTY_STRINGS } from './mutate.js';

/** docs/api.md: owner is a letter or digit then letters, digits or "-" (≤ 39); name is letters, digits, "_", ".", "-", not first "-", ≤ 100, not "." or "..". */
function documentedRepo(s: string): boolean {
  const m = /^([A-Za-z0-9][A-Za-z0-9-]{0,38})\/([A-Za-z0-9_.][A-Za-z0-9_.-]{0,99})$/.exec(s);
  return m !== null && m[2] !== '.' && m[2] !== '..';
}

const CANARY = 'ccc-injection-canary';
const hostile = (canary: string) => [
  `--upload-pack=touch ${canary}`, `-u touch ${canary}`, `--exec=touch ${canary}`, `-c core.sshCommand=touch ${canary}`,
  `x/--upload-pack=touch ${canary}`, `-x/y`, `x/-y`, '../../etc/passwd', 'a/../../b', 'a/..', 'a/.', '../x', 'acme/web\n', 'acme/web --bare',
  'acme/web;id', 'acme/web/extra', '/acme/web', 'acme//web', 'ACME/web', 'a/.git', 'a/..x', 'a/b.git', 'x'.repeat(39) + '/y', 'x'.repeat(40) + '/y',
];
const repoString = (canary: string) => fc.oneof(
  fc.constantFrom(...hostile(canary), ...NASTY_STRINGS.filter((s) => s.length < 300)),
  fc.string({ maxLength: 30 }),
  fc.tuple(fc.stringMatching(/^[A-Za-z0-9.\-_/ ]{0,12}$/), fc.stringMatching(/^[A-Za-z0-9.\-_/ ]{0,12}$/)).map(([a, b]) => `${a}/${b}`),
);
const title = (canary: string) => fc.oneof(fc.constantFrom(...hostile(canary), ...NASTY_STRINGS.filter((s) => s.length < 600)), fc.string({ maxLength: 80, unit: 'grapheme' }), fc.string({ maxLength: 40, unit: 'binary' }));

/** A `git` that records each invocation's arguments (NUL-separated, one line per call) and runs the real one. */
function gitShim(dir: string): { path: string; calls: () => string[][] } {
  const bin = join(dir, 'shim');
  mkdirSync(bin);
  const log = join(dir, 'git-calls.log');
  writeFileSync(log, '');
  const real = execFileSync('sh', ['-c', 'command -v git']).toString().trim();
  writeFileSync(join(bin, 'git'), `#!/bin/sh\nprintf '%s\\0' "$@" >> '${log}'\nprintf '\\n' >> '${log}'\nexec '${real}' "$@"\n`);
  chmodSync(join(bin, 'git'), 0o755);
  return { path: `${bin}:${process.env.PATH}`, calls: () => readFileSync(log, 'utf8').split('\0\n').filter(Boolean).map((l) => l.split('\0')) };
}

/** Every option the agent's git room (daemons/agent/git/) passes to git itself; anything else starting with "-" came from input. */
const GIT_OPTIONS = new Set(['--quiet', '--bare', '--git-dir', '--work-tree', '--template=', '--prune', '--no-write-fetch-head', '--auto', '--short', '--verify', '-u', '--reset', '-q', '--refresh',
  '--all', '--cached', '--name-only', '-z', '-c', '-m', '--no-verify', '--no-gpg-sign', '--write-tree', '--no-messages', '-p', '--']);

describe('injection through names and titles', () => {
  it('the API takes a repository only in the documented owner/name form, and never fails on one', async () => {
    const c = await startTestCoordinator(testEnv(tempDir()));
    await fc.assert(fc.asyncProperty(repoString(CANARY), async (repo) => {
      const r = await api(c.url, '/tasks', { body: { title: 't', repo } });
      expect(r.status, `repo ${JSON.stringify(repo)}`).toBe(documentedRepo(repo) ? 201 : 400);
      if (r.status === 201) expect(r.body.task.repo).toBe(repo);
    }), { seed: FUZZ_SEED, numRuns: fuzzRuns(300) });
  }, FUZZ_TIMEOUT_MS);

  it('hostile titles, ids and agent names in the API: stored as text or refused with 4xx, never 5xx', async () => {
    const c = await startTestCoordinator(testEnv(tempDir()));
    await fc.assert(fc.asyncProperty(title(CANARY), fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('..%2F..%2Fetc', '%00', '1e3', '0x10', '-1', '1.5', '9'.repeat(30))), async (t, id) => {
      const r = await api(c.url, '/tasks', { body: { title: t, labels: [t.slice(0, 100) || 'x'] } });
      const trimmed = t.trim();
      expect(r.status).toBe(trimmed.length >= 1 && trimmed.length <= 500 ? 201 : 400);
      if (r.status === 201) expect(r.body.task.title).toBe(trimmed);
      const path = encodeURIComponent(id);
      for (const [method, p] of [['GET', `/tasks/${path}`], ['POST', `/tasks/${path}/cancel`], ['POST', `/agents/${path}/drain`]] as const) {
        const res = await fetch(`${c.url}/api/v1${p}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
        expect(res.status, `${method} ${p}`).toBeLessThan(500);
      }
    }), { seed: FUZZ_SEED, numRuns: fuzzRuns(100) });
  }, FUZZ_TIMEOUT_MS);

  it('branch names from any title are plain, valid git refs', () => {
    const dir = tempDir();
    let checked = 0;
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), title(join(dir, CANARY)), (n, t) => {
      const branch = branchName(n, t);
      expect(branch).toMatch(/^ccc\/\d+-[a-z0-9]+(?:-[a-z0-9]+)*$/);
      expect(branch.length).toBeLessThanOrEqual(`ccc/${n}-`.length + 40);
      if (checked++ < 40) execFileSync('git', ['check-ref-format', '--branch', branch], { stdio: 'ignore' });
    }), { seed: FUZZ_SEED, numRuns: fuzzRuns(500) });
  }, FUZZ_TIMEOUT_MS);

  it('no repository name or title reaches git as an option or leaves the workspace root', async () => {
    const dir = tempDir('ccc-inject-');
    const canary = join(dir, CANARY);
    const forge = join(dir, 'forge');
    ensureDemoRepo(forge, 'acme/web');
    const shim = gitShim(dir);
    const root = join(dir, 'state', 'workspaces');
    const workspaces = new Workspaces({
      root, gitUrlTemplate: `file://${forge}/{owner}/{repo}.git`, author: { name: 'ccc agent', email: 'ccc-agent@localhost' },
      gitEnv: { PATH: shim.path, HOME: dir }, keepFailedMs: 60_000, log: memoryLogger().log,
    });
    let taskId = 0;
    const outcomes = { refused: 0, failed: 0, prepared: 0, published: 0 };
    await fc.assert(fc.asyncProperty(fc.oneof(repoString(canary), fc.constant('acme/web')), title(canary), async (repo, t) => {
      const id = ++taskId;
      const before = shim.calls().length;
      try {
        const ws = await workspaces.prepare({ taskId: id, attempt: 1, repo, issueNumber: id, title: t });
        outcomes.prepared++;
        expect(ws.dir.startsWith(`${root}/tasks/`)).toBe(true);
        expect(ws.branch).toBe(branchName(id, t));
        if (id % 4 === 0) {
          writeFileSync(join(ws.dir, 'change.txt'), t);
          const message = `${t} (#${id})`;
          const commit = await workspaces.publish(ws, message);
          outcomes.published++;
          // The commit is there with the title as its message (git tidies whitespace and odd code points its own way).
          expect(execFileSync('git', ['--git-dir', join(forge, 'acme', 'web.git'), 'log', '-1', '--format=%B', commit!.commit]).toString()).toContain(`(#${id})`);
        }
        await workspaces.remove(ws);
      } catch (err) {
        if (!documentedRepo(repo)) {
          outcomes.refused++;
          expect((err as Error).message).toContain('is not owner/name');
          expect(shim.calls().length, 'git ran for a refused name').toBe(before);
        } else {
          outcomes.failed++;
          expect((err as Error).message).toMatch(/^git \w+/); // a repository that does not exist on the forge
        }
      }
    }), { seed: FUZZ_SEED, numRuns: fuzzRuns(25, 1000) });
    // The argument after -m, -c, --git-dir or -B is that option's value (a message may well start with "-").
    const options = new Set(shim.calls().flatMap((argv) => argv.filter((a, i) => a.startsWith('-') && !['-m', '-c', '--git-dir', '--work-tree'].includes(argv[i - 1]!))));
    expect([...options].filter((o) => !GIT_OPTIONS.has(o))).toEqual([]);
    expect(existsSync(canary)).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(['forge', 'git-calls.log', 'shim', 'state']);
    expect(readdirSync(join(dir, 'state'))).toEqual(['workspaces']);
    expect(outcomes.prepared + outcomes.refused).toBeGreaterThan(0);
    console.log(`workspace injection: ${JSON.stringify(outcomes)}, ${shim.calls().length} git calls, options used: ${[...options].sort().join(' ')}`);
  }, FUZZ_TIMEOUT_MS);
});
