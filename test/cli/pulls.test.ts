/** ccc pulls, ccc pull [--diff] and ccc comment: the built CLI against a real coordinator and a real bare repository. */
import { describe, expect, it } from 'vitest';
import { ensureDemoRepo } from '../../daemons/cli/demo-repo.js';
import { pushBranch } from '../forge-branch.js';
import { cli, cliSetup } from './run-cli.js';

describe('ccc pulls, pull and comment', () => {
  it('list and show a local-forge pull request with its diff; a /ccc comment makes a follow-up; bad numbers are usage errors', async () => {
    const { coordinator: c, env } = await cliSetup();
    const none = await cli(['pulls'], env);
    expect(none).toMatchObject({ code: 0, stdout: expect.stringContaining('no pull requests on the local forge') });

    const bare = ensureDemoRepo(c.localForge.root);
    const branch = 'ccc/3-add-a-health-endpoint';
    const commit = pushBranch(bare, branch, { 'server/health.py': 'def health():\n    return {"ok": True}\n' });
    const task = c.store.create({ title: 'Add a /health endpoint', body: 'It answers 200.', labels: [], repo: 'demo/app', specialty: 'backend', specialtyReason: 'r' });
    c.store.assign(task.id, 'backend', 'r', 60_000);
    c.store.finish({ taskId: task.id, attempt: 1 }, 'backend', { outcome: 'succeeded', retryable: false, summary: 'Added it.', exitCode: 0, durationMs: 1, branch, base: 'main', commit });
    await c.publisher.idle();
    const n = c.store.get(task.id)!.pullRequest!.number;

    const list = await cli(['pulls'], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`^\\s*${n}\\s+open\\s+demo/app\\s+ccc/3-add-a-health-endpoint\\s+\\S+\\s+Add a /health endpoint$`, 'm'));

    const commented = await cli(['comment', String(n), '/ccc also log each request', '--author', 'alice'], env);
    expect(commented.code, commented.stderr).toBe(0);
    expect(commented.stdout).toMatch(new RegExp(`^commented on #${n}: task-created, task \\d+ queued \\(ccc logs \\d+ -f to follow it\\)\\n$`));
    const plain = await cli(['comment', String(n), 'Thanks!'], env);
    expect(plain.stdout).toBe(`commented on #${n} (not a /ccc command: no task)\n`);

    const shown = await cli(['pull', String(n)], env);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`#${n} Add a /health endpoint`);
    expect(shown.stdout).toContain(`demo/app: ${branch} → main · open`);
    expect(shown.stdout).toContain(`${c.url}/pulls/${n}`);
    expect(shown.stdout).toContain(`  ${commit.slice(0, 12)} change server/health.py`);
    expect(shown.stdout).toContain('--- alice');
    expect(shown.stdout).toContain('/ccc also log each request');
    expect(shown.stdout).toContain('--- operator');

    const diff = await cli(['pull', `#${n}`, '--diff'], env);
    expect(diff.code).toBe(0);
    expect(diff.stdout).toContain('+++ b/server/health.py');
    expect(diff.stdout).toContain('+def health():');

    expect(await cli(['pull', 'abc'], env)).toMatchObject({ code: 2, stderr: expect.stringContaining('a pull request number is a positive whole number') });
    expect(await cli(['pull', '99'], env)).toMatchObject({ code: 1, stderr: expect.stringContaining('the local forge has no pull request 99') });
    expect(await cli(['comment', String(n), '   '], env)).toMatchObject({ code: 2, stderr: expect.stringContaining('the comment is empty') });
  });
});
