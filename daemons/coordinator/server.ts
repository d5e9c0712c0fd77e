/** Starts the coordinator: SQLite, scheduler, WebSocket hub and HTTP API on one port. */
import express from 'express';
import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Settings } from '../shared/config.js';
import { requireSecret } from '../shared/config.js';
import { CccError } from '../shared/errors.js';
import { loadServerTls } from '../shared/tls.js';
import type { Logger } from '../shared/log.js';
import { AgentRegistry } from './agent-registry.js';
import { apiRouter } from './api.js';
import { IdempotencyKeys } from './idempotency.js';
import { dashboardRouter } from './dashboard.js';
import { openDb } from './db.js';
import { errorHandler, HttpError } from './http-error.js';
import { AgentHub } from './hub.js';
import { Scheduler } from './scheduler.js';
import { GroupCommit } from './group-commit.js';
import { TaskStore } from './task-store.js';
import { LocalForge } from './local-forge.js';
import { Publisher } from './publisher.js';
import { Plans } from './plans/plans.js';
import { Planner } from './plans/planner.js';
import { orderedSpecialties } from './plans/plan-steps.js';
import { publisherStore } from './publisher-store.js';
import { LiveStream } from './live-stream.js';
import { Metrics } from './metrics.js';
import { githubWebhooks } from './webhooks.js';
import { gitHttp } from './git-http.js';
import { specialtyPolicy } from './new-task.js';
import { CostCounters } from './budget/cost-counters.js';
import { DailyBudget } from './budget/daily-budget.js';
import type { GitHubApp } from './github/github-app.js';
import type { PushTokens } from './github/push-tokens.js';
import { CredentialStore } from './identity/credential-store.js';
import { Gatekeeper } from './identity/admission.js';
import { pushableBranches } from './identity/push-policy.js';

export interface RunningCoordinator {
  /** http(s)://host:port as bound (the real port when CCC_LISTEN asked for port 0). */
  url: string;
  server: Server;
  store: TaskStore;
  hub: AgentHub;
  scheduler: Scheduler;
  publisher: Publisher;
  live: LiveStream;
  registry: AgentRegistry;
  localForge: LocalForge;
  budget: DailyBudget;
  /** GitHub App mode: the per-task push tokens out now. */
  pushTokens: PushTokens | undefined;
  close(): Promise<void>;
}

export async function startCoordinator(settings: Settings, log: Logger): Promise<RunningCoordinator> {
  const adminToken = requireSecret(settings, 'adminToken', 'CCC_ADMIN_TOKEN');
  const agentToken = requireSecret(settings, 'agentToken', 'CCC_AGENT_TOKEN');
  const tls = loadServerTls(settings.tlsCert, settings.tlsKey);
  const { tasks, routing } = settings.cluster;
  const leaseMs = tasks.leaseSeconds * 1000;
  const heartbeatMs = tasks.heartbeatSeconds * 1000;

  const dbFile = join(settings.dataDir, 'coordinator.sqlite');
  const db = openDb(dbFile);
  const store = new TaskStore(db, { maxAttempts: tasks.maxAttempts, retryBackoffMs: tasks.retryBackoffSeconds * 1000 });
  // Whoever held a task before a restart gets a whole lease to reconnect and claim it.
  store.renewAllLeases(leaseMs);
  const registry = new AgentRegistry(db, Date.now, new Set(settings.cluster.agents.map((a) => a.name)));
  const costs = new CostCounters(db);
  const budget = new DailyBudget(costs, tasks.dailyBudgetUsd);
  // Octokit and its plugins are loaded only when GitHub is configured (the local forge needs none of it).
  const github = settings.githubApp || settings.githubToken ? await loadGitHub() : undefined;
  const githubApp = settings.githubApp && new github!.GitHubApp(settings.githubApp, settings.githubApiUrl);
  const pushTokens = githubApp && new github!.PushTokens(githubApp, store, log);
  const credentials = new CredentialStore(db);
  const gatekeeper = new Gatekeeper({ joinToken: agentToken, cluster: settings.cluster, credentials, log });
  const planSpecialties = orderedSpecialties(settings.cluster.agents.flatMap((a) => a.specialties), routing.planOrder);
  // Tasks posted, deliveries received and agent messages arriving together share one commit (one fsync), each acknowledged after it.
  const commits = new GroupCommit((fn) => store.inTransaction(fn));
  const hub = new AgentHub(store, registry, { gatekeeper, heartbeatMs, leaseMs, log, commits });
  const scheduler = new Scheduler(store, registry, {
    leaseMs, fallbackAfterMs: routing.fallbackAfterSeconds * 1000, log, send: (id, m) => hub.send(id, m), budget, planSpecialties,
    ...(pushTokens ? { pushToken: (row, attempt) => pushTokens.forAttempt(row, attempt) } : {}),
  });
  hub.scheduler = scheduler;
  const plans = new Plans(store, { log, schedule: () => scheduler.schedule() });
  const planner = new Planner(store, plans, { log, specialties: planSpecialties, autoApprove: routing.planApproval === 'auto' });
  plans.resume();
  planner.resume();
  let url = '';
  // Links must work from elsewhere: listening on every address, give the cluster's address instead.
  const publicUrl = () => (/^https?:\/\/(0\.0\.0\.0|\[::\])(:|$)/.test(url) ? settings.coordinatorUrl.replace(/^https?:/, tls ? 'https:' : 'http:') : url);
  const localForge = new LocalForge(db, join(settings.dataDir, 'forge'), publicUrl);
  const installationOf = async (repo: string) => store.installationOf(repo) ?? (await (githubApp as GitHubApp).installationOf(repo));
  const GitHubForge = github?.GitHubForge;
  const forge = githubApp && GitHubForge
    ? new GitHubForge({ tokenFor: async (repo) => githubApp.installationToken(await installationOf(repo)), baseUrl: settings.githubApiUrl, log })
    : settings.githubToken && GitHubForge ? new GitHubForge({ token: settings.githubToken, baseUrl: settings.githubApiUrl, log }) : localForge;

  const publisher = new Publisher(publisherStore(store, commits, log), forge, log);
  const live = new LiveStream(store, registry);
  const metrics = new Metrics({ db, store, registry, hub, costs, budget });

  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => { res.json({ ok: true }); });
  app.get('/readyz', (_req, res) => {
    db.prepare('SELECT 1').get();
    res.json({ ok: true, agents: registry.connected.size });
  });
  app.use('/api/v1', apiRouter({
    store, plans, planner, registry, scheduler, adminToken, log, localForge, live, specialties: specialtyPolicy(settings), budget,
    idempotency: new IdempotencyKeys(db), commits,
    identity: { credentials, registry, store, scheduler, cluster: settings.cluster, log },
  }));
  app.get('/metrics', metrics.handler());
  app.use('/webhooks/github', metrics.countWebhooks(), githubWebhooks({ settings, forge, db, store, plans, planner, scheduler, log, commits }));
  app.use('/git', gitHttp({ root: localForge.root, credentials, pushableRefs: (agentId, repo) => pushableBranches(store, agentId, repo), log }));
  app.use(dashboardRouter());
  app.use((req) => { throw new HttpError(404, 'not_found', `nothing at ${req.method} ${req.path}`); });
  app.use(errorHandler(log));

  const server = tls ? createTlsServer({ ...tls, minVersion: 'TLSv1.2' }, app) : createServer(app);
  // Slow clients may not hold connections for Node's defaults (60 s of headers, 300 s a request).
  server.headersTimeout = 10_000;
  server.requestTimeout = 120_000; // long enough for a git push of a large pack through /git/
  server.on('upgrade', (req, socket, head) => hub.handleUpgrade(req, socket, head));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.listen.port, settings.listen.host, () => resolve());
  }).catch((err: NodeJS.ErrnoException) => {
    db.close();
    throw new CccError(`cannot listen on ${settings.listen.host}:${settings.listen.port}: ${err.code ?? err.message}; set CCC_LISTEN to a free host:port`, 'listen');
  });
  scheduler.start();
  const { address, port } = server.address() as AddressInfo;
  url = `${tls ? 'https' : 'http'}://${address.includes(':') ? `[${address}]` : address}:${port}`;
  log.info({ url, tls: tls ? settings.tlsCert : false, dbFile, agentsInConfig: settings.cluster.agents.length, forge: forge.name }, 'coordinator listening');

  return {
    url, server, store, hub, scheduler, publisher, localForge, live, registry, budget, pushTokens,
    async close() {
      scheduler.stop();
      live.close();
      await publisher.idle();
      await pushTokens?.close();
      await hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      commits.flush(); // whatever is queued commits before the database closes
      db.close();
    },
  };
}

async function loadGitHub() {
  const [{ GitHubApp }, { PushTokens }, { GitHubForge }] = await Promise.all([
    import('./github/github-app.js'), import('./github/push-tokens.js'), import('./github-forge.js'),
  ]);
  return { GitHubApp, PushTokens, GitHubForge };
}
