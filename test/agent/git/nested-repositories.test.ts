/** Repositories the model makes inside the task directory are left out of the agent's commit, and never looked into. */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nestedRepositories } from '../../../daemons/agent/git/nested-repositories.js';
import { setup, sh } from './fixture.js';

describe('nested repositories in the task directory', () => {
  it('are left out of the commit and named; a broken or hostile top-level .git does not matter', async () => {
    const { dir, origin, workspaces } = setup();
    const marker = join(dir, 'NESTED-RAN');
    const ws = await workspaces.prepare({ taskId: 1, attempt: 1, repo: 'acme/web', issueNumber: 3, title: 'vendor' });
    // vendor/lib: a real repository with a commit and an fsmonitor command
    const lib = join(ws.dir, 'vendor', 'lib');
    mkdirSync(lib, { recursive: true });
    sh(['init', '--quiet', lib]);
    writeFileSync(join(lib, 'lib.c'), 'int x;\n');
    sh(['add', '.'], lib);
    sh(['commit', '--quiet', '-m', 'lib'], lib);
    sh(['config', 'core.fsmonitor', `touch '${marker}'; false`], lib);
    // d2: a .git redirect to a repository without a commit (git add --all would stop here)
    mkdirSync(join(ws.dir, 'd2', '.x', 'objects'), { recursive: true });
    mkdirSync(join(ws.dir, 'd2', '.x', 'refs'), { recursive: true });
    writeFileSync(join(ws.dir, 'd2', '.x', 'HEAD'), 'ref: refs/heads/main\n');
    writeFileSync(join(ws.dir, 'd2', '.x', 'config'), `[core]\n\tfsmonitor = "touch '${marker}'; false"\n`);
    writeFileSync(join(ws.dir, 'd2', '.git'), 'gitdir: .x\n');
    // docs/.GIT: a case variant git would refuse as a path
    mkdirSync(join(ws.dir, 'docs', '.GIT'), { recursive: true });
    writeFileSync(join(ws.dir, 'docs', '.GIT', 'config'), '[core]\n');
    writeFileSync(join(ws.dir, 'docs', 'guide.md'), '# guide\n');
    writeFileSync(join(ws.dir, 'app.py'), 'print(1)\n');
    // the model's own .git replaced by a redirect with an fsmonitor command
    rmSync(join(ws.dir, '.git'), { recursive: true });
    mkdirSync(join(ws.dir, '.y', 'objects'), { recursive: true });
    mkdirSync(join(ws.dir, '.y', 'refs'), { recursive: true });
    writeFileSync(join(ws.dir, '.y', 'HEAD'), 'ref: refs/heads/main\n');
    writeFileSync(join(ws.dir, '.y', 'config'), `[core]\n\tfsmonitor = "touch '${marker}'; false"\n`);
    writeFileSync(join(ws.dir, '.git'), 'gitdir: .y\n');

    expect(nestedRepositories(ws.dir)).toEqual(['d2', 'docs/.GIT', 'vendor/lib']);
    const published = await workspaces.publish(ws, 'vendor');
    expect(published!.leftOut).toEqual(['d2', 'docs/.GIT', 'vendor/lib']);
    expect(sh(['show', '--name-only', '--format=', published!.commit], origin).split('\n').sort()).toEqual(['.y/HEAD', '.y/config', 'app.py', 'docs/guide.md']);
    expect(existsSync(marker)).toBe(false);
  });
});
