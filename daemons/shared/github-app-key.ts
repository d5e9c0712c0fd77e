/** Reads the GitHub App's private key (CCC_GITHUB_APP_PRIVATE_KEY_FILE) once, with an error that says what to fix. */
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CccError } from './errors.js';

export interface GitHubAppCredentials {
  appId: number;
  /** The PEM text (PKCS#1 as GitHub hands it out, or PKCS#8). */
  privateKey: string;
  keyFile: string;
}

const VARIABLE = 'CCC_GITHUB_APP_PRIVATE_KEY_FILE';

/** Both variables or neither; the key file must be a readable RSA private key in PEM. */
export function readGitHubApp(appId: string | undefined, keyFile: string | undefined): GitHubAppCredentials | undefined {
  if (!appId && !keyFile) return undefined;
  if (!appId) throw new CccError(`environment: ${VARIABLE} is set but CCC_GITHUB_APP_ID is not: set it to the App ID shown on the App's settings page`, 'config');
  if (!/^[1-9]\d{0,11}$/.test(appId)) throw new CccError(`environment: CCC_GITHUB_APP_ID must be the App's numeric ID (got "${appId.slice(0, 20)}")`, 'config');
  if (!keyFile) throw new CccError(`environment: CCC_GITHUB_APP_ID is set but ${VARIABLE} is not: set it to the path of the App's private key (.pem)`, 'config');
  let privateKey: string;
  try {
    privateKey = readFileSync(keyFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new CccError(`environment: ${VARIABLE}=${keyFile} cannot be read (${code}): give the path of the .pem file generated on the App's settings page, readable by the coordinator's user`, 'config');
  }
  const notPem = `environment: ${VARIABLE}=${keyFile} is not a PEM private key: use the .pem file GitHub generated ("-----BEGIN RSA PRIVATE KEY-----"), unchanged`;
  if (!/-----BEGIN (RSA )?PRIVATE KEY-----/.test(privateKey)) throw new CccError(notPem, 'config');
  try {
    if (createPrivateKey(privateKey).asymmetricKeyType !== 'rsa') throw new Error('not RSA');
  } catch {
    throw new CccError(notPem, 'config');
  }
  return { appId: Number(appId), privateKey, keyFile };
}

/** The key's lines long enough to be secret, for the log scrubber (a JSON log line escapes the newlines). */
export function privateKeyLines(app: GitHubAppCredentials | undefined): string[] {
  return app ? app.privateKey.split('\n').map((l) => l.trim()).filter((l) => l.length >= 16 && !l.startsWith('-----')) : [];
}
