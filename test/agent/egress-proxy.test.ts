/** The egress proxy over real sockets: allowlist patterns, CONNECT and absolute-URI requests, denials reported. */
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { allows, parseRules, upstreamRule } from '../../daemons/agent/egress/allowlist.js';
import { openEgressSession } from '../../daemons/agent/egress/egress-proxy.js';
import { onCleanup } from '../helpers.js';

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => new Promise<void>((resolve) => { server.close(() => resolve()); (server as http.Server).closeAllConnections?.(); }));
  return (server.address() as AddressInfo).port;
}

/** Sends raw bytes to the proxy and returns everything it answers until it closes or `until` appears. */
function raw(port: number, text: string, until = '\r\n\r\n'): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    let got = '';
    s.on('data', (c) => { got += c.toString(); if (got.includes(until)) { s.destroy(); resolve(got); } });
    s.on('end', () => resolve(got));
    s.on('error', reject);
  });
}

describe('egress allowlist', () => {
  it('matches hosts, ports and subdomain wildcards', () => {
    const rules = parseRules(['registry.example.com', '*.pkgs.example.org', 'git.example.net:8443', 'any.example.io:*', ' 127.0.0.1:9000 ']);
    expect(allows(rules, 'registry.example.com', 443)).toBe(true);
    expect(allows(rules, 'registry.example.com', 80)).toBe(true);
    expect(allows(rules, 'registry.example.com', 22)).toBe(false);
    expect(allows(rules, 'REGISTRY.example.com.', 443)).toBe(true);
    expect(allows(rules, 'a.pkgs.example.org', 443)).toBe(true);
    expect(allows(rules, 'pkgs.example.org', 443)).toBe(false);
    expect(allows(rules, 'evilpkgs.example.org', 443)).toBe(false);
    expect(allows(rules, 'git.example.net', 8443)).toBe(true);
    expect(allows(rules, 'git.example.net', 443)).toBe(false);
    expect(allows(rules, 'any.example.io', 2222)).toBe(true);
    expect(allows(rules, '127.0.0.1', 9000)).toBe(true);
    expect(allows(rules, '127.0.0.1', 9001)).toBe(false);
    expect(allows(rules, 'registry.example.com.evil.io', 443)).toBe(false);
    expect(upstreamRule('https://api.anthropic.com')).toBe('api.anthropic.com:443');
    expect(upstreamRule('http://127.0.0.1:8090/x')).toBe('127.0.0.1:8090');
  });

  it('refuses a bad pattern with what a pattern looks like', () => {
    expect(() => parseRules(['https://example.com'])).toThrow(/not an egress pattern: use host\[:port\]/);
    expect(() => parseRules(['example.com:99999'])).toThrow(/not an egress pattern/);
    expect(() => parseRules(['*'])).toThrow(/not an egress pattern/);
  });
});

describe('egress proxy', () => {
  it('tunnels CONNECT to an allowed host and refuses and reports the rest', async () => {
    const echoPort = await listen(net.createServer((s) => s.pipe(s)));
    let otherHits = 0;
    const otherPort = await listen(net.createServer((s) => { otherHits++; s.destroy(); }));
    const denied: string[] = [];
    const session = await openEgressSession({ listen: { loopback: true }, rules: parseRules([`127.0.0.1:${echoPort}`]), onDenied: (t) => denied.push(t) });
    onCleanup(() => session.close());
    const port = (session.listening as { port: number }).port;

    const tunnel = await raw(port, `CONNECT 127.0.0.1:${echoPort} HTTP/1.1\r\nHost: 127.0.0.1:${echoPort}\r\n\r\nping-through-tunnel`, 'ping-through-tunnel');
    expect(tunnel).toMatch(/^HTTP\/1.1 200 Connection Established\r\n\r\nping-through-tunnel/);

    const refused = await raw(port, `CONNECT 127.0.0.1:${otherPort} HTTP/1.1\r\nHost: x\r\n\r\n`, 'agent.egress.allow\n');
    expect(refused).toMatch(/^HTTP\/1.1 403 Forbidden/);
    expect(otherHits).toBe(0);
    expect(denied).toEqual([`127.0.0.1:${otherPort}`]);
    expect(session.denied).toBe(1);
  });

  it('forwards absolute-URI http requests to allowed hosts only', async () => {
    const webPort = await listen(http.createServer((req, res) => res.end(`hello ${req.url}`)));
    const denied: string[] = [];
    const session = await openEgressSession({ listen: { loopback: true }, rules: parseRules([`127.0.0.1:${webPort}`]), onDenied: (t) => denied.push(t) });
    onCleanup(() => session.close());
    const port = (session.listening as { port: number }).port;
    const ok = await raw(port, `GET http://127.0.0.1:${webPort}/pkg HTTP/1.1\r\nHost: 127.0.0.1:${webPort}\r\nConnection: close\r\n\r\n`, 'hello /pkg');
    expect(ok).toMatch(/^HTTP\/1.1 200/);
    const no = await raw(port, 'GET http://denied.example.com/ HTTP/1.1\r\nHost: denied.example.com\r\nConnection: close\r\n\r\n', 'agent.egress.allow\n');
    expect(no).toMatch(/^HTTP\/1.1 403/);
    expect(denied).toEqual(['denied.example.com:80']);
  });
});
