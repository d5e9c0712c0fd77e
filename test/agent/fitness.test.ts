/** Whether an agent may take tasks: a model credential, and a sandbox wherever a profile allows Bash (unless agent.sandbox is off). */
import { describe, expect, it } from 'vitest';
import { agentFitness } from '../../daemons/agent/fitness.js';
import { probeSandbox } from '../../daemons/agent/sandbox/probe.js';
import { agentNode, loadSettings } from '../../daemons/shared/config.js';
import { clusterConfig, tempDir, writeCluster } from '../helpers.js';

const NO_SANDBOX = { ok: false as const, reason: 'bubblewrap (bwrap) is not installed', fix: 'apt-get install bubblewrap socat' };
const SANDBOX = { ok: true as const, detail: 'bubblewrap 0.8.0' };

function settings(executor: Record<string, unknown>, agent: Record<string, unknown> = {}, env: Record<string, string> = { ANTHROPIC_API_KEY: 'sk-test-0123456789' }) {
  const dir = tempDir();
  const file = writeCluster(dir, clusterConfig({ agent: { drainTimeoutSeconds: 2, executor: { type: 'claude', ...executor }, ...agent } }));
  const s = loadSettings({ CCC_CONFIG: file, CCC_AGENT_ID: 'backend', CCC_DATA_DIR: dir, ...env }, 'agent');
  return { s, node: agentNode(s) };
}

describe('agent fitness', () => {
  it('takes tasks with a credential and a working sandbox', async () => {
    const { s, node } = settings({});
    const f = await agentFitness(s, node, SANDBOX);
    expect(f).toMatchObject({ refusal: undefined, note: 'sandbox: bubblewrap' });
  });

  it('takes no task when the host cannot confine and the default profile allows Bash', async () => {
    const { s, node } = settings({});
    const f = await agentFitness(s, node, NO_SANDBOX);
    expect(f.refusal).toMatch(/cannot confine the CLI \(bubblewrap \(bwrap\) is not installed\) and the profile allows Bash: apt-get install bubblewrap socat/);
  });

  it('runs unconfined only when cluster.yml says agent.sandbox: off, or no profile allows Bash', async () => {
    const off = settings({}, { sandbox: 'off' });
    expect(await agentFitness(off.s, off.node, NO_SANDBOX)).toMatchObject({ refusal: undefined, note: 'sandbox: off (agent.sandbox)' });
    const noBash = settings({ allowedTools: ['Read', 'Edit'] });
    expect((await agentFitness(noBash.s, noBash.node, NO_SANDBOX)).refusal).toBeUndefined();
    const bashInProfile = settings({ allowedTools: ['Read'], profiles: { api: { allowedTools: ['Bash(npm test:*)'] } } });
    expect((await agentFitness(bashInProfile.s, bashInProfile.node, NO_SANDBOX)).refusal).toMatch(/allows Bash/);
  });

  it('takes no task without a model credential, naming the variables', async () => {
    const { s, node } = settings({}, {}, {});
    expect((await agentFitness(s, node, SANDBOX)).refusal).toMatch(/no model credential: set ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN/);
  });

  it('stops at start on a bad egress pattern, naming where it came from', async () => {
    const { s, node } = settings({}, { egress: { allow: ['https://x.example.com'] } });
    await expect(agentFitness(s, node, SANDBOX)).rejects.toThrow(/agent\.egress\.allow: "https:\/\/x\.example\.com" is not an egress pattern/);
    const env = settings({}, {}, { ANTHROPIC_API_KEY: 'sk-test-0123456789', CCC_EGRESS_ALLOW: 'ok.example.com, bad pattern' });
    await expect(agentFitness(env.s, env.node, SANDBOX)).rejects.toThrow(/CCC_EGRESS_ALLOW: "bad pattern"/);
  });
});

describe('sandbox probe', () => {
  it('says what is missing: not Linux, no bwrap', async () => {
    expect(await probeSandbox({ PATH: '/usr/bin:/bin' }, 'darwin')).toMatchObject({ ok: false, reason: expect.stringContaining('needs Linux namespaces') });
    expect(await probeSandbox({ PATH: tempDir() }, 'linux')).toMatchObject({ ok: false, reason: 'bubblewrap (bwrap) is not installed', fix: 'apt-get install bubblewrap socat' });
  });
});
