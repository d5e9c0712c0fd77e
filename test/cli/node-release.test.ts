/** ccc doctor's node line: the supported majors come from package.json; end-of-life majors warn. */
import { describe, expect, it } from 'vitest';
import { checkNodeVersion, supportedMajors } from '../../daemons/cli/commands/node-release.js';

const DAY = new Date('2026-12-02T12:00:00Z');

describe('node release check', () => {
  it('reads the supported majors from package.json engines', () => {
    expect(supportedMajors()).toEqual([22, 24]);
    expect(supportedMajors('^22.12.0 || ^24.0.0 || ^26.1.0')).toEqual([22, 24, 26]);
  });

  it('is ok on a supported LTS and names its end of life', () => {
    const c = checkNodeVersion('24.22.3', DAY);
    expect(c.status).toBe('ok');
    expect(c.detail).toBe('v24.22.3 (supported: 22 or 24; end of life 2028-04-30)');
    expect(checkNodeVersion('22.23.5', DAY).status).toBe('ok');
  });

  it('warns on Node 20 after its end of life, with the fix, but not before', () => {
    const c = checkNodeVersion('20.20.2', DAY);
    expect(c.status).toBe('warn');
    expect(c.detail).toBe('v20.20.2: Node 20 reached end of life on 2026-04-30 (supported: 22 or 24)');
    expect(c.fix).toContain('install Node.js 24 LTS');
    expect(checkNodeVersion('20.20.2', new Date('2026-04-29T12:00:00Z'), [20, 22]).status).toBe('ok');
  });

  it('warns on an odd or unknown major, fails below the minimum', () => {
    expect(checkNodeVersion('25.1.0', new Date('2026-01-10')).detail).toContain('not a supported major');
    expect(checkNodeVersion('26.0.0', DAY).status).toBe('warn');
    const old = checkNodeVersion('20.10.0', DAY);
    expect(old.status).toBe('fail');
    expect(old.detail).toContain('needs 20.19 or newer');
  });
});
