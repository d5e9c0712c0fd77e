/** The dashboard in headless Chromium against an in-process coordinator: what a person sees, updated live. */
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { DASHBOARD_CSP } from '../../daemons/coordinator/dashboard.js';
import { packageRoot } from '../../daemons/shared/package-root.js';
import { githubStandIn } from '../github-stand-in.js';
import { ADMIN_TOKEN, RawAgent, api, clusterConfig, onCleanup, startTestCoordinator, tempDir, testEnv } from '../helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
// docs/dashboard.png is refreshed only on request (CCC_UPDATE_SCREENSHOT=1), so a test run leaves the tree clean.
const screenshotPath = () => (process.env.CCC_UPDATE_SCREENSHOT === '1' ? join(packageRoot, 'docs', 'dashboard.png') : join(tempDir(), 'dashboard.png'));

type AgentSpec = { name: string; specialties: string[]; capacity: number };

/** A coordinator (publishing pull requests to a GitHub stand-in) with the four agents of cluster.yml connected and heartbeating. */
async function cluster() {
  const gh = await githubStandIn();
  const c = await startTestCoordinator(testEnv(tempDir(), { CCC_GITHUB_TOKEN: 'ghp_dashboard_test_0123456789', CCC_GITHUB_API_URL: gh.url }));
  const agents: Record<string, RawAgent> = {};
  for (const a of clusterConfig().agents as AgentSpec[]) {
    agents[a.name] = await RawAgent.connect(c.url);
    await agents[a.name]!.hello(a.name, a.specialties, { capacity: a.capacity });
  }
  // Leases are 2 s in tests: keep them renewed as a real agent would.
  const beat = setInterval(() => {
    for (const a of Object.values(agents)) if (a.ws.readyState === a.ws.OPEN) a.send({ type: 'heartbeat' });
  }, 200);
  onCleanup(() => clearInterval(beat));
  return { c, agents };
}

/** Headless Chromium with a fresh profile at a laptop's screen size; console errors and page errors are collected. */
async function openPage(url: string): Promise<{ page: Page; problems: string[] }> {
  const context = await chromium.launchPersistentContext(tempDir('ccc-chromium-'), {
    executablePath: CHROMIUM, args: CHROMIUM_ARGS, viewport: { width: 1366, height: 768 }, colorScheme: 'light', reducedMotion: 'reduce',
  });
  onCleanup(() => context.close());
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(15_000);
  const problems: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(url);
  return { page, problems };
}

async function submit(url: string, task: { title: string; body?: string; labels?: string[]; repo?: string }): Promise<number> {
  const { status, body } = await api(url, '/tasks', { body: task });
  expect(status).toBe(201);
  return body.task.id as number;
}

/** Takes the agent's next assignment, says it started and sends its output lines. */
async function run(agent: RawAgent, lines: string[]): Promise<{ taskId: number; attempt: number }> {
  const { taskId, attempt } = await agent.next('task.assign');
  agent.send({ type: 'task.started', taskId, attempt });
  for (const text of lines) agent.send({ type: 'task.progress', taskId, attempt, text });
  return { taskId, attempt };
}

function finish(agent: RawAgent, ref: { taskId: number; attempt: number }, result: Record<string, unknown>): void {
  agent.send({ type: 'task.result', ...ref, outcome: 'succeeded', retryable: false, exitCode: 0, durationMs: 4200, ...result });
}

describe('dashboard', () => {
  it('serves the page and its files with their content types and a strict CSP; nothing else', async () => {
    const c = await startTestCoordinator(testEnv(tempDir()));
    const page = await fetch(`${c.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).toContain("script-src 'self'");
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await page.text()).toContain('<script type="module" src="/dashboard/app.js">');
    for (const [file, type] of [['app.js', 'text/javascript; charset=utf-8'], ['view.js', 'text/javascript; charset=utf-8'],
      ['style.css', 'text/css; charset=utf-8'], ['icon.svg', 'image/svg+xml']]) {
      const res = await fetch(`${c.url}/dashboard/${file}`);
      expect([file, res.status, res.headers.get('content-type')]).toEqual([file, 200, type]);
      expect(res.headers.get('content-security-policy')).toBe(DASHBOARD_CSP);
    }
    for (const path of ['/dashboard/missing.js', '/dashboard/%2e%2e/dashboard.ts', '/dashboard/', '/index.html']) {
      const res = await fetch(`${c.url}${path}`);
      expect([path, res.status]).toEqual([path, 404]);
      expect((await res.json()).error.code).toBe('not_found');
    }
    expect((await fetch(`${c.url}/api/v1/tasks`)).status).toBe(401);
  });

  it('shows the agents, then a task moving from the queue to running (with its output) to done, live; then the coordinator going away', async () => {
    const { c, agents } = await cluster();
    const { page, problems } = await openPage(`${c.url}/#token=${ADMIN_TOKEN}`);
    const backend = agents.backend!;

    // The token came in the fragment and has left the address bar.
    await page.locator('#conn[data-state="live"]').waitFor();
    await page.locator('#agents .agent[data-state="online"]').nth(3).waitFor();
    expect(page.url()).toBe(`${c.url}/`);
    expect(await page.evaluate(() => sessionStorage.getItem('ccc-admin-token'))).toBe(ADMIN_TOKEN);
    expect(await page.locator('#agents .agent-name').allTextContents()).toEqual(['backend', 'devops', 'frontend', 'testing']);
    expect(await page.locator('#agents .agent-state').allTextContents()).toEqual(['online', 'online', 'online', 'online']);
    expect(await page.locator('#agents [data-key="backend"] .chip').allTextContents()).toEqual(['backend', 'api', 'database', 'python']);
    await page.evaluate(() => { (window as unknown as { sameDocument: boolean }).sameDocument = true; });

    // With backend drained, a backend task waits in the queue. Its title is shown as text, never as markup.
    await api(c.url, '/agents/backend/drain', { method: 'POST' });
    await page.locator('#agents [data-key="backend"][data-state="draining"]').waitFor();
    const title = '<img src=x onerror="window.pwned=1">Add a /health endpoint';
    const id = await submit(c.url, { title, body: '<script>window.pwned=2</script>', labels: ['ccc:backend'], repo: 'acme/web' });
    const queued = page.locator(`#queue [data-key="${id}"]`);
    await queued.waitFor();
    expect(await queued.locator('.task-title').textContent()).toBe(title);
    expect(await queued.locator('.specialty').textContent()).toBe('backend');
    expect(await page.locator('#stat-queued').textContent()).toBe('1');
    expect(await page.locator('main img').count()).toBe(0);

    // Resumed: backend takes it; it leaves the queue and runs, its output tailing in.
    await api(c.url, '/agents/backend/resume', { method: 'POST' });
    const output = ['reading the issue', 'tool Write: src/health.ts', 'tool Bash: npm test', '12 tests passed'];
    const ref = await run(backend, output);
    const running = page.locator(`#running [data-key="${id}"]`);
    await running.locator('.tail', { hasText: '12 tests passed' }).waitFor();
    expect(await running.locator('.tail').textContent()).toBe(output.join('\n'));
    expect(await running.locator('.task-meta').textContent()).toMatch(/^on backend · attempt 1 of 3 · started (just now|\d+ s ago)$/);
    await page.locator('#queue-empty').waitFor();
    expect(await page.locator('#agents [data-key="backend"] .load-text').textContent()).toBe('1 / 2 running');

    // Done: it moves to the finished table with its summary, cost and pull request.
    finish(backend, ref, {
      summary: 'Added GET /health with a test.\nAll 12 tests pass.', branch: `ccc/${id}-add-a-health-endpoint`, base: 'main',
      commit: 'a'.repeat(40), costUsd: 0.42, turns: 7, sessionId: 'session-1',
    });
    const done = page.locator(`#finished [data-key="${id}"]`);
    await done.locator('.badge', { hasText: 'succeeded' }).waitFor();
    await page.locator('#running-empty').waitFor();
    expect(await done.locator('.summary').textContent()).toBe('Added GET /health with a test.');
    expect(await done.locator('.cost').textContent()).toBe('$0.42');
    expect(await page.locator('#stat-cost').textContent()).toBe('$0.42');
    await expect.poll(() => page.locator('#stat-today').textContent()).toBe('$0.42'); // GET /summary: today's spend, no limit set
    expect(await page.locator('#agents [data-key="backend"] .load-text').textContent()).toBe('0 / 2 running');
    const pr = done.locator('a.pr[href]');
    await pr.waitFor(); // announced only as a history entry: the page reads the task again
    expect(await pr.getAttribute('href')).toBe('https://github.example/acme/web/pull/7');
    expect(await pr.textContent()).toBe('#7');

    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    expect(problems).toEqual([]);

    // The coordinator stops: the page says so, keeps what it knew, and keeps retrying.
    await c.close();
    await page.locator('#banner', { hasText: 'Cannot reach the coordinator' }).waitFor();
    expect(await page.locator('#conn-text').textContent()).toBe('Offline');
    expect(await done.locator('.badge').textContent()).toBe('succeeded');
  });

  it('says so on a wrong token (401) and takes the right one from its form', async () => {
    const c = await startTestCoordinator(testEnv(tempDir()));
    const { page } = await openPage(`${c.url}/#token=not-the-admin-token`);
    const error = page.locator('#login-error');
    await error.waitFor();
    expect(await error.textContent()).toContain('refused this token (401 Unauthorized)');
    expect(page.url()).toBe(`${c.url}/`);
    expect(await page.evaluate(() => sessionStorage.getItem('ccc-admin-token'))).toBeNull();
    expect(await page.locator('#board').isHidden()).toBe(true);

    await page.locator('#token').fill(ADMIN_TOKEN);
    await page.locator('#login-form button[type="submit"]').click();
    await page.locator('#conn[data-state="live"]').waitFor();
    await page.locator('#agents-empty', { hasText: 'No agent has connected yet' }).waitFor();
    expect(await page.locator('#login').isHidden()).toBe(true);
    expect(await page.evaluate(() => sessionStorage.getItem('ccc-admin-token'))).toBe(ADMIN_TOKEN);
  });

  it('renders a busy cluster (a screenshot; CCC_UPDATE_SCREENSHOT=1 saves it as docs/dashboard.png)', async () => {
    const { c, agents } = await cluster();
    const { page, problems } = await openPage(`${c.url}/#token=${ADMIN_TOKEN}`);
    await page.locator('#agents .agent[data-state="online"]').nth(3).waitFor();

    // Finished: one with a pull request, one plain, one failed.
    const first = await submit(c.url, { title: 'Add a /health endpoint to the API', labels: ['ccc:backend'], repo: 'acme/web' });
    finish(agents.backend!, await run(agents.backend!, ['reading the issue']), {
      summary: 'Added GET /health returning build and uptime, with a test.', branch: `ccc/${first}-add-a-health-endpoint`,
      base: 'main', commit: 'b'.repeat(40), costUsd: 0.4213,
    });
    await submit(c.url, { title: 'Pin the Node base image in the Dockerfile', labels: ['ccc:devops'] });
    finish(agents.devops!, await run(agents.devops!, ['reading the Dockerfile']), {
      summary: 'Pinned node:22.11-bookworm-slim by digest; the image builds.', costUsd: 0.0871,
    });
    await submit(c.url, { title: 'Fix the flaky login e2e test', labels: ['ccc:testing'] });
    finish(agents.testing!, await run(agents.testing!, ['running the suite']), {
      outcome: 'failed', exitCode: 1, summary: 'reached the turn limit (30 turns) before the test passed three times in a row', costUsd: 0.3102,
    });
    await page.locator('#finished tr').nth(2).waitFor();

    // Running, with output.
    await submit(c.url, { title: 'Dark mode toggle on the settings page', labels: ['ccc:frontend'] });
    await run(agents.frontend!, ['reading the issue', 'tool Read: src/settings/SettingsPage.tsx', 'tool Edit: src/settings/SettingsPage.tsx',
      'tool Write: src/theme/useColorScheme.ts', 'tool Bash: npm run typecheck', 'typecheck clean; running the component tests']);
    await submit(c.url, { title: 'Add tests for the billing CSV export', labels: ['ccc:testing'] });
    await run(agents.testing!, ['reading the issue', 'tool Grep: exportCsv', 'tool Write: test/billing/export.test.ts', 'tool Bash: npx vitest run test/billing', '2 of 9 tests fail: rounding of VAT']);
    await submit(c.url, { title: 'Rate-limit POST /login per client address', labels: ['ccc:backend'] });
    await run(agents.backend!, ['reading the issue', 'tool Read: src/routes/login.ts', 'tool Edit: src/routes/login.ts']);

    // Queued: backend is drained, so its next tasks wait.
    await api(c.url, '/agents/backend/drain', { method: 'POST' });
    await submit(c.url, { title: 'Paginate GET /api/orders', labels: ['ccc:backend'] });
    await submit(c.url, { title: 'Migrate the sessions table to UUID keys', labels: ['ccc:database'] });

    await page.locator('#queue .task').nth(1).waitFor();
    await page.locator('#running .tail', { hasText: 'rounding of VAT' }).waitFor();
    await page.locator('#running .tail', { hasText: 'component tests' }).waitFor();
    await page.locator('#finished a.pr[href]').waitFor();
    await page.locator('#agents [data-key="backend"][data-state="draining"]').waitFor();
    expect(await page.locator('#stat-cost').textContent()).toBe('$0.82');
    expect(problems).toEqual([]);
    await page.screenshot({ path: screenshotPath(), fullPage: true });
  });

  it('shows a plan as one card whose steps show their states; its steps are not cards of their own', async () => {
    const { c, agents } = await cluster();
    const { page, problems } = await openPage(`${c.url}/#token=${ADMIN_TOKEN}`);
    await page.locator('#conn[data-state="live"]').waitFor();
    const planId = await submit(c.url, { title: 'Health report: API, page, tests, pipeline', labels: ['ccc:frontend', 'ccc:backend', 'ccc:devops', 'ccc:testing'] });
    const first = await run(agents.backend!, ['wrote server/health.py']);
    finish(agents.backend!, first, { summary: 'API done', commit: null, branch: null });
    await run(agents.frontend!, ['writing web/health.tsx']);
    const card = page.locator(`#running [data-key="${planId}"]`);
    await card.locator('.step[data-state="running"]').waitFor();
    expect(await card.locator('.specialty').textContent()).toBe('plan · 4 steps');
    expect(await card.locator('.step').allTextContents()).toEqual(['1 backend · done', '2 frontend · running', '3 testing · waiting', '4 devops · waiting']);
    expect(await card.locator('.task-meta').textContent()).toMatch(/^step 2 of 4 \(frontend\) · on frontend · attempt 1 · /);
    await card.locator('.tail', { hasText: 'writing web/health.tsx' }).waitFor();
    expect(await page.locator('#running .task').count()).toBe(1);
    expect(await page.locator('#finished .task').count()).toBe(0);
    expect(await page.locator('#agents [data-key="frontend"] .load-text').textContent()).toBe('1 / 2 running');
    expect(problems).toEqual([]);
  });
});
