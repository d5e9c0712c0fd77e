/** Which Node.js majors the cluster supports (package.json `engines`) and when each reaches end of life. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../shared/package-root.js';
import type { Check } from './doctor.js';

/** End of life of each major, from the Node.js release schedule (odd majors: six months after release). */
export const NODE_END_OF_LIFE: Readonly<Record<number, string>> = {
  18: '2025-04-30', 19: '2023-06-01', 20: '2026-04-30', 21: '2024-06-01',
  22: '2027-04-30', 23: '2025-06-01', 24: '2028-04-30', 25: '2026-06-01',
};

/** The lowest version the daemons start on at all (below it: fail); supported is narrower. */
export const NODE_MINIMUM = [20, 19] as const;

/** The majors package.json's `engines.node` names, e.g. `^22.12.0 || ^24.0.0` → [22, 24]. */
export function supportedMajors(engines = readEngines()): number[] {
  return [...engines.matchAll(/\^(\d+)\./g)].map((m) => Number(m[1]));
}

function readEngines(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { engines?: { node?: string } };
  return pkg.engines?.node ?? '';
}

/** `ccc doctor`'s node line: fail below the minimum, warn on an end-of-life or unsupported major. */
export function checkNodeVersion(version = process.versions.node, today = new Date(), supported = supportedMajors()): Check {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const [needMajor, needMinor] = NODE_MINIMUM;
  const list = supported.join(' or ');
  const fix = `install Node.js ${supported.at(-1)} LTS (the bundle and the provision scripts carry it; or \`nvm install ${supported.at(-1)}\`)`;
  if (major < needMajor || (major === needMajor && minor < needMinor)) {
    return { check: 'node', status: 'fail', detail: `v${version} (needs ${needMajor}.${needMinor} or newer; supported: ${list})`, fix };
  }
  const eol = NODE_END_OF_LIFE[major];
  if (eol && eol <= today.toISOString().slice(0, 10)) {
    return { check: 'node', status: 'warn', detail: `v${version}: Node ${major} reached end of life on ${eol} (supported: ${list})`, fix };
  }
  if (!supported.includes(major)) {
    return { check: 'node', status: 'warn', detail: `v${version}: Node ${major} is not a supported major (supported: ${list})`, fix };
  }
  return { check: 'node', status: 'ok', detail: `v${version} (supported: ${list}${eol ? `; end of life ${eol}` : ''})` };
}
