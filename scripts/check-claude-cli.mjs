#!/usr/bin/env node
/**
 * Checks the installed Claude Code CLI against the facts docs/claude-code.md
 * relies on, by running it against the rehearsal model on 127.0.0.1, and
 * prints expected vs observed. Exits 1 on any mismatch. Run after a CLI bump:
 *
 *   npm run build && node scripts/check-claude-cli.mjs [path/to/claude] [--slow]
 *
 * About 15 s; --slow adds the HTTP 500 case, which the CLI retries for ~3 minutes.
 */
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist', 'daemons');
if (!existsSync(join(dist, 'rehearsal', 'model-server.js'))) {
  process.stderr.write('check-claude-cli: dist/ is missing; run `npm run build` first\n');
  process.exit(2);
}
const { startModelServer } = await import(join(dist, 'rehearsal', 'model-server.js'));
const { initRepo, rehearsalEnv, resultOf, runClaude } = await import(join(dist, 'rehearsal', 'cli-drive.js'));
const { workingDirectory } = await import(join(dist, 'rehearsal', 'prompt.js'));
const { createLogger } = await import(join(dist, 'shared', 'log.js'));

const slow = process.argv.includes('--slow');
const binary = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? join(root, 'node_modules', '.bin', 'claude');
const LIMIT_MS = 60_000;
const scratch = mkdtempSync(join(tmpdir(), 'ccc-check-cli-'));
const requests = [];
const server = await startModelServer({
  host: '127.0.0.1', port: 0,
  log: createLogger({ level: process.env.CCC_LOG_LEVEL ?? 'silent', name: 'rehearsal-model', secrets: [] }),
  observe: (r) => requests.push(r),
});

function prompt(body = 'Please add it.') {
  return ['You are the backend specialist.', '', 'Repository: acme/web', 'Issue: #12', 'Title: Add a /health endpoint', 'Specialty: backend', '---', body, ''].join('\n');
}

const BASE_ARGS = ['-p', '--output-format', 'stream-json', '--verbose', '--permission-mode', 'acceptEdits', '--allowedTools', 'Write', 'Bash(git status:*)'];
let runs = 0;

/** One CLI run in a fresh repo and HOME; `during` may signal it once the model holds its request. */
async function run({ args = BASE_ARGS, maxTurns = 6, body, during, limit = LIMIT_MS } = {}) {
  runs += 1;
  const repo = join(scratch, `repo-${runs}`);
  const home = join(scratch, `home-${runs}`);
  execFileSync('mkdir', ['-p', repo, home]);
  initRepo(repo);
  const sessionId = randomUUID();
  const child = runClaude({
    binary, cwd: repo, prompt: prompt(body), limitMs: limit,
    args: [...args, '--max-turns', String(maxTurns), '--session-id', sessionId],
    env: rehearsalEnv({ path: process.env.PATH ?? '/usr/bin:/bin', home, baseUrl: server.url }),
  });
  if (during) await during(child);
  const out = await child.done;
  return { ...out, repo, sessionId, result: resultOf(out.events) };
}

async function whenModelHolds(child) {
  const deadline = Date.now() + LIMIT_MS;
  while (server.stats.open === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return child;
}

function outcome(r) {
  const exit = r.killedAfterLimit ? 'killed at the time limit' : r.code !== null ? `exit ${r.code}` : `signal ${r.signal}`;
  if (!r.result) return `no result, ${exit}`;
  const status = r.result.api_error_status ? ` api_error_status=${r.result.api_error_status}` : '';
  return `result ${r.result.subtype} is_error=${r.result.is_error}${status}, ${exit}`;
}

const rows = [];
const check = (name, expected, observed) => rows.push({ name, expected, observed: String(observed), ok: String(observed) === expected });

try {
  const version = execFileSync(binary, ['--version'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: scratch } }).trim();

  const noVerbose = await run({ args: BASE_ARGS.filter((a) => a !== '--verbose') });
  check('stream-json without --verbose', 'no result, exit 1', outcome(noVerbose));

  requests.length = 0;
  const ok = await run();
  check('success', 'result success is_error=false, exit 0', outcome(ok));
  check('success: session_id', 'as given', ok.result?.session_id === ok.sessionId ? 'as given' : String(ok.result?.session_id));
  check('success: num_turns, total_cost_usd', 'num_turns 3, cost > 0', `num_turns ${ok.result?.num_turns}, cost ${ok.result?.total_cost_usd > 0 ? '> 0' : ok.result?.total_cost_usd}`);
  const file = join(ok.repo, 'server', 'add_a_health_endpoint.py');
  check('success: Write ran in the repo', 'file names #12 and the title', existsSync(file) && /#12: Add a \/health endpoint/.test(readFileSync(file, 'utf8')) ? 'file names #12 and the title' : 'no such file');
  const statusResult = ok.events.some((e) => e.type === 'user' && JSON.stringify(e).includes('?? server/'));
  check('success: Bash git status ran', 'tool_result "?? server/"', statusResult ? 'tool_result "?? server/"' : 'not seen');
  const first = requests.find((r) => r.url.startsWith('/v1/messages?'));
  check('request: route', 'POST /v1/messages?beta=true', first ? `${first.method} ${first.url}` : 'none');
  check('request: stream, credential header', 'stream true, x-api-key', first ? `stream ${first.body.stream}, ${first.headerNames.includes('x-api-key') ? 'x-api-key' : 'no x-api-key'}` : 'none');
  check('request: working directory announced', ok.repo, first ? workingDirectory(first.body) ?? 'not found' : 'none');
  check('request: one request per turn', '3', String(requests.filter((r) => r.url.startsWith('/v1/messages?')).length));

  const denied = await run({ body: 'ccc-rehearsal: fault=401' });
  check('API 401', 'result success is_error=true api_error_status=401, exit 1', outcome(denied));

  const turns = await run({ body: 'ccc-rehearsal: fault=max-turns', maxTurns: 3 });
  check('--max-turns 3 reached', 'result error_max_turns is_error=true, exit 1', outcome(turns));

  const term = await run({ body: 'ccc-rehearsal: fault=hang', during: async (c) => (await whenModelHolds(c)).signal('SIGTERM') });
  check('SIGTERM while waiting on the model', 'no result, exit 143', outcome(term));

  // Unlike SIGTERM, SIGINT ends with a result event when a model request is open; before the first request there is none.
  const int = await run({ body: 'ccc-rehearsal: fault=hang', during: async (c) => (await whenModelHolds(c)).signal('SIGINT') });
  check('SIGINT while waiting on the model', 'result error_during_execution is_error=true, exit 0', outcome(int));

  requests.length = 0;
  const busy = await run({ body: 'ccc-rehearsal: fault=overloaded' });
  check('API 529 overloaded (retried)', 'result success is_error=true api_error_status=529, exit 1', outcome(busy));
  check('API 529: requests before giving up', '3', String(requests.length));

  if (slow) {
    requests.length = 0;
    const broken = await run({ body: 'ccc-rehearsal: fault=500', limit: 400_000 });
    check('API 500 (retried with backoff, ~3 min)', 'result success is_error=true api_error_status=500, exit 1', outcome(broken));
    check('API 500: requests before giving up', '11', String(requests.length));
  }

  const comma = await run({ args: [...BASE_ARGS.slice(0, -2), 'Write,Bash(git status:*)'] });
  const commaStatus = comma.events.some((e) => e.type === 'user' && JSON.stringify(e).includes('?? server/'));
  check('--allowedTools as one comma-separated argument', 'result success is_error=false, exit 0, git status ran', `${outcome(comma)}${commaStatus ? ', git status ran' : ', git status not run'}`);

  if (process.getuid?.() === 0) {
    const bypass = await run({ args: BASE_ARGS.map((a) => (a === 'acceptEdits' ? 'bypassPermissions' : a)) });
    check('as root: bypassPermissions', 'refused (root), exit 1', `${/root/i.test(bypass.stderr) ? 'refused (root)' : 'ran'}, ${bypass.code !== null ? `exit ${bypass.code}` : `signal ${bypass.signal}`}`);
    const skip = await run({ args: [...BASE_ARGS, '--dangerously-skip-permissions'] });
    check('as root: --dangerously-skip-permissions', 'refused (root), exit 1', `${/root/i.test(skip.stderr) ? 'refused (root)' : 'ran'}, ${skip.code !== null ? `exit ${skip.code}` : `signal ${skip.signal}`}`);
  }

  const width = (key) => Math.max(key.length, ...rows.map((r) => r[key].length));
  const [wn, we, wo] = [width('name'), width('expected'), width('observed')];
  process.stdout.write(`Claude Code CLI ${version} at ${binary}\n\n`);
  process.stdout.write(`${'case'.padEnd(wn)}  ${'expected'.padEnd(we)}  ${'observed'.padEnd(wo)}  ok\n`);
  for (const r of rows) process.stdout.write(`${r.name.padEnd(wn)}  ${r.expected.padEnd(we)}  ${r.observed.padEnd(wo)}  ${r.ok ? 'yes' : 'NO'}\n`);
  const bad = rows.filter((r) => !r.ok).length;
  process.stdout.write(bad ? `\n${bad} of ${rows.length} facts no longer hold: update docs/claude-code.md and the agent's executor before shipping this version.\n` : `\nAll ${rows.length} facts hold.\n`);
  process.exitCode = bad ? 1 : 0;
} finally {
  await server.close();
  rmSync(scratch, { recursive: true, force: true });
}
