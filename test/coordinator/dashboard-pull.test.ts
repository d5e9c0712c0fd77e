/**
 * The local forge's pull request page in headless Chromium: reached from the
 * dashboard's link without an admin-token failure, it shows the commits, the
 * diff and the conversation, and its form asks for a follow-up.
 */
import { chromium, type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { ensureDemoRepo } from '../../daemons/cli/demo-repo.js';
import { pushBranch } from '../forge-branch.js';
import { ADMIN_TOKEN, onCleanup, startTestCoordinator, tempDir, testEnv } from '../helpers.js';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function browser(): Promise<{ page: Page; problems: string[] }> {
  const context = await chromium.launchPersistentContext(tempDir('ccc-chromium-'), { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 1366, height: 900 } });
  onCleanup(() => context.close());
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(15_000);
  const problems: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(e.message));
  return { page, problems };
}

describe('pull request page', () => {
  it('opens from the dashboard link, shows commits, diff and conversation, and its form asks for a follow-up', async () => {
    const c = await startTestCoordinator(testEnv(tempDir()));
    const bare = ensureDemoRepo(c.localForge.root);
    const branch = 'ccc/3-add-a-health-endpoint';
    const commit = pushBranch(bare, branch, { 'server/health.py': 'def health():\n    return {"ok": True}\n' });
    const task = c.store.create({ title: 'Add a /health endpoint <b>bold</b>', body: 'b', labels: [], repo: 'demo/app', specialty: 'backend', specialtyReason: 'r' });
    c.store.assign(task.id, 'backend', 'r', 60_000);
    c.store.finish({ taskId: task.id, attempt: 1 }, 'backend', { outcome: 'succeeded', retryable: false, summary: 'ok', exitCode: 0, durationMs: 1, branch, base: 'main', commit });
    await c.publisher.idle();
    const pr = c.store.get(task.id)!.pullRequest!;

    const { page: dashboard, problems: before } = await browser();
    await dashboard.goto(`${c.url}/#token=${ADMIN_TOKEN}`);
    // The link opens a new tab on the coordinator's own page, which has the token: no prompt, no 401.
    const [page] = await Promise.all([dashboard.context().waitForEvent('page'), dashboard.getByRole('link', { name: `#${pr.number}` }).click()]);
    const problems: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text()); });
    await page.waitForURL(`${c.url}/pulls/${pr.number}`);
    expect(await page.locator('#login').isHidden()).toBe(true);
    await expect.poll(() => page.locator('#pr-title').textContent()).toBe(`#${pr.number} Add a /health endpoint <b>bold</b>`);
    expect(await page.locator('#pr-meta').textContent()).toContain(`demo/app: ${branch} → main`);
    expect(await page.locator('#commits li').count()).toBe(1);
    expect(await page.locator('#commits li code').textContent()).toBe(commit.slice(0, 12));
    expect(await page.locator('.diff-add', { hasText: 'def health():' }).count()).toBe(1);
    expect(await page.locator('.diff-meta', { hasText: '+++ b/server/health.py' }).count()).toBe(1);

    await page.locator('#comment-body').fill('/ccc also log each request');
    await page.getByRole('button', { name: 'Comment' }).click();
    await expect.poll(() => page.locator('#comment-result').textContent()).toMatch(/^task-created: task #\d+ \(queued\)$/);
    await expect.poll(() => page.locator('#comments li').count()).toBeGreaterThanOrEqual(1);
    expect(await page.locator('#comments li').first().textContent()).toContain('/ccc also log each request');
    const followUp = c.store.list({}).find((t) => t.followUp)!;
    expect(followUp).toMatchObject({ branch, pullRequest: { number: pr.number }, followUp: { author: 'dashboard' } });
    expect([...before, ...problems]).toEqual([]);
  });
});
