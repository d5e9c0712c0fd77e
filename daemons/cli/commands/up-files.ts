/**
 * What `ccc up` leaves for the operator CLI in its state directory (default
 * .ccc/up under the package, or CCC_DATA_DIR, as in up.ts): secrets.env with
 * the admin token, and coordinator.url with the address it listens on.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Env } from '../../shared/config.js';
import { packageRoot } from '../../shared/package-root.js';

/** The directory `ccc up` keeps its state in: the same rule as up.ts. */
export function upDir(env: Env): string {
  return env.CCC_DATA_DIR || join(packageRoot, '.ccc', 'up');
}

export const upSecretsFile = (dir: string): string => join(dir, 'secrets.env');
export const upUrlFile = (dir: string): string => join(dir, 'coordinator.url');

/** For up.ts: remember where the coordinator listens, so `ccc status` finds it with no flags (also with --port 0). */
export function writeUpUrl(dir: string, url: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(upUrlFile(dir), `${url}\n`);
}

/** The URL the last `ccc up` listened on, if it wrote one. */
export function readUpUrl(dir: string): string | undefined {
  const file = upUrlFile(dir);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined;
}

/** CCC_ADMIN_TOKEN from secrets.env, read only (unlike loadOrCreateSecrets, which makes the file). */
export function readUpToken(dir: string): string | undefined {
  const file = upSecretsFile(dir);
  if (!existsSync(file)) return undefined;
  const line = readFileSync(file, 'utf8').split('\n').find((l) => l.trim().startsWith('CCC_ADMIN_TOKEN='));
  return line?.slice(line.indexOf('=') + 1).trim() || undefined;
}
