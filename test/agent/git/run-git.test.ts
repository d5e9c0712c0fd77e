/** The agent's git runner: command-line settings beat a hostile repository config even before the agent rewrites it. */
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { git } from '../../../daemons/agent/git/run-git.js';
import { tempDir } from '../../helpers.js';
import { gitEnv, sh } from './fixture.js';

describe('git(): the hardened runner', () => {
  it('runs no hook and no fsmonitor from the repository config, its includes or the global config', async () => {
    const dir = tempDir('ccc-run-git-');
    const repo = join(dir, 'repo');
    const marker = join(dir, 'RAN');
    sh(['init', '--quiet', repo]);
    writeFileSync(join(dir, 'included.cfg'), `[core]\n\tfsmonitor = "touch '${marker}-include'; false"\n`);
    sh(['config', 'core.fsmonitor', `touch '${marker}-fsmonitor'; false`], repo);
    sh(['config', 'include.path', join(dir, 'included.cfg')], repo);
    for (const hook of ['pre-commit', 'post-commit', 'post-checkout', 'reference-transaction']) {
      writeFileSync(join(repo, '.git', 'hooks', hook), `#!/bin/sh\ntouch '${marker}-${hook}'\n`);
      chmodSync(join(repo, '.git', 'hooks', hook), 0o755);
    }
    const home = join(dir, 'home');
    mkdirSync(home);
    writeFileSync(join(home, '.gitconfig'), `[core]\n\tfsmonitor = "touch '${marker}-global'; false"\n[user]\n\tname = global\n`);
    writeFileSync(join(repo, 'a.txt'), 'a');
    const env = { ...gitEnv, HOME: home };
    const own = ['--git-dir', join(repo, '.git'), '--work-tree', repo];
    await git([...own, 'add', '--all'], { env });
    await git([...own, '-c', 'user.name=a', '-c', 'user.email=a@a', 'commit', '--quiet', '-m', 'a'], { env });
    await git([...own, 'checkout', '--quiet', '-b', 'other'], { env });
    expect(await git([...own, 'log', '-1', '--format=%an'], { env })).toBe('a\n');
    expect(existsSync(`${marker}-fsmonitor`) || existsSync(`${marker}-include`) || existsSync(`${marker}-global`)).toBe(false);
    for (const hook of ['pre-commit', 'post-commit', 'post-checkout', 'reference-transaction']) expect(existsSync(`${marker}-${hook}`), hook).toBe(false);
    // The same repository through plain git runs them: the test can fail.
    writeFileSync(join(repo, 'b.txt'), 'b');
    sh(['-C', repo, 'add', '--all']);
    expect(existsSync(`${marker}-fsmonitor`) || existsSync(`${marker}-include`)).toBe(true);
  });

  it('says which step failed, and treats listed exit codes as answers', async () => {
    const dir = tempDir('ccc-run-git-');
    await expect(git(['--git-dir', join(dir, 'none'), 'rev-parse', 'HEAD'], { env: gitEnv })).rejects.toThrow(/^git rev-parse HEAD failed: fatal: not a git repository/);
    sh(['init', '--quiet', '--bare', join(dir, 'r.git')]);
    expect(await git(['--git-dir', join(dir, 'r.git'), 'rev-parse', '--verify', '--quiet', 'refs/heads/x'], { env: gitEnv, okCodes: [1] })).toBe('');
  });
});
