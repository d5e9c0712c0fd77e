/**
 * Egress allowlist patterns, `host[:port]`: `example.com` (ports 80 and 443),
 * `example.com:8443`, `example.com:*` (any port), `*.example.com` (any
 * subdomain, not the apex), `127.0.0.1:9000`. Parsing rejects anything else
 * with a message that says what a pattern looks like.
 */

export interface EgressRule {
  /** Lowercase host, or `*.suffix` for subdomains. */
  host: string;
  /** A port, or undefined for any port, or 'web' for 80 and 443. */
  port: number | 'web' | undefined;
  text: string;
}

const HOST = /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

export function parseRule(text: string): EgressRule {
  const pattern = text.trim().toLowerCase();
  const m = /^(.+?)(?::(\d{1,5}|\*))?$/.exec(pattern);
  const host = m?.[1] ?? '';
  const port = m?.[2];
  if (!m || !HOST.test(host) || (port && port !== '*' && (Number(port) < 1 || Number(port) > 65535))) {
    throw new Error(`"${text}" is not an egress pattern: use host[:port] such as registry.example.com, *.example.com, example.com:8443 or example.com:*`);
  }
  return { host, port: port === '*' ? undefined : port ? Number(port) : 'web', text: pattern };
}

/** Patterns from cluster.yml or CCC_EGRESS_ALLOW (comma-separated). */
export function parseRules(patterns: readonly string[]): EgressRule[] {
  return patterns.flatMap((p) => p.split(',')).map((p) => p.trim()).filter(Boolean).map(parseRule);
}

export function allows(rules: readonly EgressRule[], host: string, port: number): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  return rules.some((r) => {
    const hostOk = r.host.startsWith('*.') ? h.endsWith(r.host.slice(1)) && h.length > r.host.length - 1 : h === r.host;
    const portOk = r.port === undefined || (r.port === 'web' ? port === 80 || port === 443 : r.port === port);
    return hostOk && portOk;
  });
}

/** The rule that lets the model upstream through, e.g. `api.anthropic.com:443`. */
export function upstreamRule(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || (u.protocol === 'https:' ? 443 : 80)}`;
}
