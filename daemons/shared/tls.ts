/**
 * TLS between the machines: the coordinator's certificate and key (CCC_TLS_CERT, CCC_TLS_KEY), and
 * the cluster CA agents and the CLI verify it against (CCC_TLS_CA). There is no switch to skip
 * verification; every failure names the file to fix.
 */
import { readFileSync } from 'node:fs';
import { CccError } from './errors.js';

/** The CA an agent or the CLI trusts for the coordinator, and the file it came from (for messages). */
export interface TlsTrust {
  ca: Buffer;
  caFile: string;
}

export interface ServerTls {
  cert: Buffer;
  key: Buffer;
}

function readPem(file: string, variable: string, kind: RegExp): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (err) {
    throw new CccError(`${variable}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, 'config');
  }
  if (!kind.test(pem.toString('latin1'))) throw new CccError(`${variable}: ${file} holds no PEM ${kind.source.replace(/\\/g, '')} block`, 'config');
  return pem;
}

/** CCC_TLS_CA as a trust anchor, or undefined (then the system's CAs apply to https:// URLs). */
export function loadTrust(caFile: string | undefined): TlsTrust | undefined {
  return caFile ? { ca: readPem(caFile, 'CCC_TLS_CA', /-----BEGIN CERTIFICATE-----/), caFile } : undefined;
}

/** The coordinator's certificate and key: both or neither. */
export function loadServerTls(certFile: string | undefined, keyFile: string | undefined): ServerTls | undefined {
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) throw new CccError(`CCC_TLS_CERT and CCC_TLS_KEY go together: set both (or neither, for plain HTTP)`, 'config');
  return {
    cert: readPem(certFile, 'CCC_TLS_CERT', /-----BEGIN CERTIFICATE-----/),
    key: readPem(keyFile, 'CCC_TLS_KEY', /-----BEGIN [A-Z ]*PRIVATE KEY-----/),
  };
}

const NOT_TRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_SIGNATURE_FAILURE',
]);

/** What to fix when a TLS connection to `url` failed, or undefined when `err` is not about TLS. */
export function tlsProblem(err: unknown, url: string, trust: TlsTrust | undefined): string | undefined {
  const e = err as { code?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code ?? '';
  const host = new URL(url).hostname;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `the coordinator's certificate does not name ${host}: reissue the coordinator's CCC_TLS_CERT with ${host} in its subjectAltName (provision/coordinator.sh does), or set CCC_COORDINATOR_URL to a name the certificate holds`;
  }
  if (NOT_TRUSTED.has(code)) {
    return trust
      ? `the coordinator's certificate is not signed by the CA in ${trust.caFile} (${code}): put the cluster CA there (the coordinator's /etc/ccc/tls/ca.pem), or point CCC_TLS_CA at it`
      : `the coordinator's certificate is not signed by a CA this machine trusts (${code}): set CCC_TLS_CA to the cluster CA file (the coordinator's /etc/ccc/tls/ca.pem)`;
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return `the coordinator's certificate is outside its validity period (${code}): renew its CCC_TLS_CERT (provision/coordinator.sh renews it when run again)`;
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'EPROTO') {
    return `the coordinator at ${url} does not answer TLS: use an http:// URL, or give the coordinator CCC_TLS_CERT and CCC_TLS_KEY`;
  }
  return undefined;
}

/**
 * A fetch that verifies the coordinator against `trust` (the global fetch when there is none).
 * undici is loaded only then: it costs a CLI start about 0.1–0.2 s.
 */
export function fetchWithTrust(trust: TlsTrust | undefined): typeof fetch {
  if (!trust) return fetch;
  let client: Promise<{ fetch: typeof import('undici').fetch; dispatcher: import('undici').Agent }> | undefined;
  return (async (input: string | URL, init?: RequestInit) => {
    client ??= import('undici').then((u) => ({ fetch: u.fetch, dispatcher: new u.Agent({ connect: { ca: trust.ca } }) }));
    const { fetch: undiciFetch, dispatcher } = await client;
    return undiciFetch(input, { ...(init as object), dispatcher });
  }) as unknown as typeof fetch;
}
