/** `ccc up`: the five nodes of cluster.yml as local processes, until Ctrl-C. */
import { join } from 'node:path';
import { defaultConfigFile, type Env } from '../shared/config.js';
import { CccError } from '../shared/errors.js';
import { packageRoot } from '../shared/package-root.js';
import { writeUpUrl } from './commands/up-files.js';
import { runDemo } from './demo.js';
import { DEMO_REPO } from './demo-repo.js';
import { startLocalCluster } from './local-cluster.js';

export interface UpOptions {
  port: number;
  env: Env;
  /** Submit one sample issue per specialty, follow them to their pull requests, then stop. */
  demo?: boolean;
}

export async function runUp({ port, env, demo }: UpOptions): Promise<void> {
  const configFile = env.CCC_CONFIG || defaultConfigFile;
  const dataDir = env.CCC_DATA_DIR || join(packageRoot, '.ccc', 'up');
  const say = (line: string) => process.stdout.write(`ccc up: ${line}\n`);
  const started = Date.now();
  const cluster = await startLocalCluster({
    configFile, dataDir, port,
    env: { CCC_LOG_LEVEL: env.CCC_LOG_LEVEL },
    onProgress: say,
  }).catch((err: unknown) => {
    if (err instanceof Error && err.message.includes('EADDRINUSE')) {
      throw new CccError(`port ${port} is taken (is another ccc up running?): stop that, or run \`ccc up --port 0\` for any free port`, 'start');
    }
    throw err;
  });
  writeUpUrl(dataDir, cluster.url);
  say(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s: coordinator and ${cluster.nodes.length - 1} agents`);
  process.stdout.write(`
  API          ${cluster.url}/api/v1
  admin token  CCC_ADMIN_TOKEN in ${cluster.secretsFile}
  model        ${cluster.modelUrl ? `rehearsal model at ${cluster.modelUrl} (scripted; no Anthropic key used)` : 'the Anthropic API (ANTHROPIC_API_KEY)'}
  forge        ${cluster.forgeRoot}/ (repository ${DEMO_REPO}; pull requests at ${cluster.url}/api/v1/forge/pulls)
  logs         ${join(dataDir, 'logs')}/

  Try:
    set -a; . ${cluster.secretsFile}; set +a
    curl -s -H "Authorization: Bearer $CCC_ADMIN_TOKEN" ${cluster.url}/api/v1/agents
    curl -s -H "Authorization: Bearer $CCC_ADMIN_TOKEN" -H 'Content-Type: application/json' \\
      -d '{"title":"Add a health endpoint to the API","repo":"${DEMO_REPO}","labels":["ccc:backend"]}' ${cluster.url}/api/v1/tasks
    curl -s -H "Authorization: Bearer $CCC_ADMIN_TOKEN" ${cluster.url}/api/v1/forge/pulls

  Ctrl-C stops every node; state is kept in ${dataDir} for the next ccc up.
`);
  if (demo) {
    const ok = await runDemo(cluster.url, cluster.adminToken, say).then(
      (tasks) => {
        process.stdout.write('\n');
        for (const t of tasks) {
          const what = t.pullRequest ? `pull request #${t.pullRequest.number}  ${t.pullRequest.url}` : `${t.state}: ${t.result?.summary ?? ''}`;
          const who = t.kind === 'plan' ? `${t.steps?.length ?? 0} steps` : t.agentId ?? '-';
          process.stdout.write(`  ${t.specialty.padEnd(9)} ${who.padEnd(9)} ${what}\n`);
        }
        process.stdout.write('\n');
        return tasks.every((t) => t.pullRequest);
      },
      (err: Error) => { say(`demo failed: ${err.message}`); return false; },
    );
    say(ok ? 'demo: five pull requests on the local forge, the last one made by all four specialists in turn' : 'demo: not every task ended in a pull request; see the logs');
    await cluster.stop();
    say('stopped');
    process.exitCode = ok ? 0 : 1;
    return;
  }
  await new Promise<void>((resolve) => {
    const stop = () => {
      say('stopping: agents drain first, then the coordinator');
      cluster.stop().then(resolve, resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  say('stopped');
}
