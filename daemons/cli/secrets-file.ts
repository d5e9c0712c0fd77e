/** The tokens `ccc up` makes once and keeps (mode 0600) so later runs and the CLI reuse them. */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CccError } from '../shared/errors.js';

export type Secrets = { CCC_ADMIN_TOKEN: string; CCC_AGENT_TOKEN: string };

/** Reads KEY=value lines from `file`, creating the file with fresh tokens when it is missing. */
export function loadOrCreateSecrets(file: string): Secrets {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const fresh = `CCC_ADMIN_TOKEN=${randomBytes(24).toString('hex')}\nCCC_AGENT_TOKEN=${randomBytes(24).toString('hex')}\n`;
    writeFileSync(file, fresh, { mode: 0o600 });
  }
  chmodSync(file, 0o600);
  const values = Object.fromEntries(
    readFileSync(file, 'utf8').split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')).trim(), l.slice(l.indexOf('=') + 1).trim()]),
  );
  if (!values.CCC_ADMIN_TOKEN || !values.CCC_AGENT_TOKEN) {
    throw new CccError(`${file} lacks CCC_ADMIN_TOKEN or CCC_AGENT_TOKEN; delete it and ccc up makes new ones`, 'config');
  }
  return { CCC_ADMIN_TOKEN: values.CCC_ADMIN_TOKEN, CCC_AGENT_TOKEN: values.CCC_AGENT_TOKEN };
}
