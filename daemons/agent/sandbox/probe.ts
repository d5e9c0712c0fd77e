/**
 * Can this host confine the CLI? Linux, bubblewrap and socat present, and a
 * real trial: bwrap creates its user, PID and network namespaces and runs
 * `true`. The answer says what is missing and how to fix it.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { systemMounts } from './system-mounts.js';

const run = promisify(execFile);

export type SandboxProbe = { ok: true; detail: string } | { ok: false; reason: string; fix: string };

export async function probeSandbox(env: { PATH?: string | undefined } = process.env, platform = process.platform): Promise<SandboxProbe> {
  if (platform !== 'linux') return { ok: false, reason: `this host runs ${platform}, and the sandbox needs Linux namespaces`, fix: 'run agents on Linux, or set agent.sandbox: off in cluster.yml and allow no Bash' };
  const opts = { timeout: 10_000, env: { PATH: env.PATH ?? '/usr/bin:/bin' } };
  let version: string;
  try {
    version = (await run('bwrap', ['--version'], opts)).stdout.trim();
  } catch {
    return { ok: false, reason: 'bubblewrap (bwrap) is not installed', fix: 'apt-get install bubblewrap socat' };
  }
  try {
    await run('socat', ['-V'], opts);
  } catch {
    return { ok: false, reason: 'socat is not installed', fix: 'apt-get install socat' };
  }
  const uid = process.getuid?.() ?? 0;
  try {
    await run('bwrap', ['--unshare-all', '--die-with-parent', '--new-session', '--uid', String(uid === 0 ? 65534 : uid), ...systemMounts(), '--proc', '/proc', '--dev', '/dev', '--', '/bin/true'], opts);
  } catch (err) {
    const why = ((err as { stderr?: string }).stderr ?? (err as Error).message).trim().split('\n')[0];
    return {
      ok: false,
      reason: `bubblewrap cannot create namespaces here: ${why}`,
      fix: 'allow user namespaces (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu 24.04 kernel.apparmor_restrict_unprivileged_userns=0 or an AppArmor profile for bwrap; under systemd no RestrictNamespaces=), or set agent.sandbox: off',
    };
  }
  return { ok: true, detail: `${version}: user, PID and network namespaces work` };
}
