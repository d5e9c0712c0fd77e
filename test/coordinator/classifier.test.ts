/** chooseSpecialty: explicit request, then `ccc:<x>` label, then keyword scoring, then `general`. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_KEYWORDS, GENERAL, LABEL_PREFIX, chooseSpecialty, type TaskText } from '../../daemons/coordinator/classifier.js';

const task = (t: Partial<TaskText>): TaskText => ({ title: '', body: '', labels: [], ...t });

describe('precedence', () => {
  it('an explicit specialty wins over labels and keywords', () => {
    const c = chooseSpecialty(task({ title: 'Fix the React button', labels: ['ccc:backend'], specialty: 'devops' }));
    expect(c).toEqual({ specialty: 'devops', reason: 'requested specialty devops' });
  });

  it('an empty explicit specialty counts as none', () => {
    expect(chooseSpecialty(task({ title: 'docker', specialty: '' })).specialty).toBe('devops');
  });

  it('a ccc:<x> label wins over keywords', () => {
    const c = chooseSpecialty(task({ title: 'Fix the React button CSS', labels: ['bug', 'ccc:backend'] }));
    expect(c.specialty).toBe('backend');
    expect(c.reason).toBe('label ccc:backend → backend');
  });

  it('the label prefix is case-insensitive and the specialty is lowercased', () => {
    expect(LABEL_PREFIX).toBe('ccc:');
    const c = chooseSpecialty(task({ labels: ['CCC:Frontend'] }));
    expect(c.specialty).toBe('frontend');
    expect(c.reason).toContain('CCC:Frontend');
    expect(c.reason).toContain('frontend');
    expect(chooseSpecialty(task({ labels: ['Ccc:DevOps'] })).specialty).toBe('devops');
  });

  it('the first ccc: label counts', () => {
    expect(chooseSpecialty(task({ labels: ['enhancement', 'ccc:testing', 'ccc:devops'] })).specialty).toBe('testing');
  });

  it('a label that is only the prefix, or merely contains it, is ignored', () => {
    const c = chooseSpecialty(task({ title: 'Add a Helm chart', labels: ['ccc:', 'not-ccc:backend', 'ccc'] }));
    expect(c.specialty).toBe('devops');
    expect(c.reason).toMatch(/^keywords /);
  });

  it('a label may name a specialty outside the keyword table', () => {
    expect(chooseSpecialty(task({ labels: ['ccc:security'] })).specialty).toBe('security');
  });
});

describe('keyword scoring', () => {
  it('nothing matches → general, with a reason saying so', () => {
    expect(GENERAL).toBe('general');
    expect(chooseSpecialty(task({ title: 'Typo in README', body: 'The install section says "npm isntall".' })))
      .toEqual({ specialty: 'general', reason: 'no label or keyword → general' });
    expect(chooseSpecialty(task({})).specialty).toBe('general');
  });

  it('matches whole words only, not substrings', () => {
    // "testimonial" ⊃ test, "apiary" ⊃ api, "uimage" ⊃ ui, "cinema" ⊃ ci
    expect(chooseSpecialty(task({ title: 'Update the testimonial in the apiary cinema uimage' })).specialty).toBe('general');
  });

  it('is case-insensitive and ignores trailing punctuation', () => {
    expect(chooseSpecialty(task({ title: 'KUBERNETES upgrade' })).specialty).toBe('devops');
    expect(chooseSpecialty(task({ title: 'Broken API.' })).specialty).toBe('backend');
    expect(chooseSpecialty(task({ title: 'see: Dockerfile...' })).specialty).toBe('devops');
    expect(chooseSpecialty(task({ title: '(flaky)' })).specialty).toBe('testing');
  });

  it('title words count double', () => {
    // title: react (frontend 2); body: api (backend 1) → frontend
    expect(chooseSpecialty(task({ title: 'React', body: 'api' })).specialty).toBe('frontend');
    // title: react (frontend 2); body: api, sql, server (backend 3) → backend
    expect(chooseSpecialty(task({ title: 'React', body: 'api sql server' })).specialty).toBe('backend');
    // the same words moved between title and body flip the choice
    expect(chooseSpecialty(task({ title: 'api', body: 'react' })).specialty).toBe('backend');
  });

  it('every occurrence scores', () => {
    // body: docker docker docker (devops 3) beats title: api (backend 2)
    expect(chooseSpecialty(task({ title: 'api', body: 'docker docker docker' })).specialty).toBe('devops');
  });

  it('ties are broken by table order', () => {
    const order = Object.keys(DEFAULT_KEYWORDS);
    expect(order).toEqual(['backend', 'frontend', 'testing', 'devops']);
    expect(chooseSpecialty(task({ title: 'Dashboard API' })).specialty).toBe('backend'); // 2 : 2
    expect(chooseSpecialty(task({ title: 'API dashboard' })).specialty).toBe('backend'); // word order does not matter
    expect(chooseSpecialty(task({ title: 'docker jest' })).specialty).toBe('testing');  // testing before devops
    expect(chooseSpecialty(task({ body: 'css helm' })).specialty).toBe('frontend');    // frontend before devops
  });

  it('the reason names the matched keywords and the choice', () => {
    const c = chooseSpecialty(task({ title: 'Add pagination to the /users API endpoint', body: 'The REST endpoint returns every row; add limit/offset to the SQL query.' }));
    expect(c.specialty).toBe('backend');
    expect(c.reason).toBe('keywords api, endpoint, rest, sql, query → backend');
  });

  it('the reason lists each keyword once and at most five', () => {
    const c = chooseSpecialty(task({ title: 'api api', body: 'api server sql postgres mysql sqlite django flask' }));
    expect(c.specialty).toBe('backend');
    const listed = /^keywords (.*) → backend$/.exec(c.reason)![1]!.split(', ');
    expect(listed).toEqual(['api', 'server', 'sql', 'postgres', 'mysql']);
  });

  it('a custom keyword table replaces the default one', () => {
    const table = { docs: ['readme', 'Documentation'], backend: ['rust'] };
    expect(chooseSpecialty(task({ title: 'Typo in README' }), table)).toEqual({ specialty: 'docs', reason: 'keywords readme → docs' });
    // keywords of the table are matched case-insensitively
    expect(chooseSpecialty(task({ body: 'the documentation is stale' }), table).specialty).toBe('docs');
    // the default keywords are gone
    expect(chooseSpecialty(task({ title: 'API endpoint returns 500' }), table).specialty).toBe('general');
    // table order breaks ties in the custom table too
    expect(chooseSpecialty(task({ title: 'rust readme' }), table).specialty).toBe('docs');
    expect(chooseSpecialty(task({ title: 'rust readme' }), { backend: ['rust'], docs: ['readme'] }).specialty).toBe('backend');
  });
});

describe('realistic issues', () => {
  const cases: Array<[title: string, body: string, expected: string]> = [
    ['Add pagination to the /users API endpoint', 'The REST endpoint returns every row; add limit and offset to the SQL query.', 'backend'],
    ['Login button is misaligned on mobile', 'The CSS layout of the login page breaks below 400px; the button overlaps the form.', 'frontend'],
    ['Flaky test in checkout e2e suite', 'The Playwright test times out about one run in ten; coverage dropped too.', 'testing'],
    ['Dockerfile build fails in CI pipeline', 'The docker image no longer builds since the base image moved; deploy is blocked.', 'devops'],
    ['Migrate user sessions table to Postgres', 'Write a migration and update the ORM models in Django.', 'backend'],
    ['Typo in README', 'The installation section says "npm isntall".', 'general'],
    ['Add a Helm chart for the Kubernetes deployment', '', 'devops'],
    ['Write pytest fixtures for the payments module', 'We have no tests for refunds at all.', 'testing'],
    ['GraphQL resolver returns null for nested fields', 'query { user { posts } } returns null since 2.3.', 'backend'],
    ['Set up nginx as a reverse proxy with TLS', 'Terminate TLS in nginx and add monitoring for the upstream.', 'devops'],
    ['Improve accessibility of the settings form', 'Screen readers skip the labels; add aria attributes in the Vue template.', 'frontend'],
    ['Regression: dark mode toggle', 'Since v1.4 the toggle no longer persists. Add a jest regression test.', 'testing'],
    ['Crash on startup', 'Stack trace attached. Happens on every machine since Tuesday.', 'general'],
    // frontend: dashboard×2 (title) + dashboard, page = 4; backend: api, query, sqlite = 3
    ['Slow dashboard', 'The dashboard page takes 8 s; the API query behind it does a full table scan in sqlite.', 'frontend'],
    // backend: sqlite, database in the title (×2) + sqlite (of SQLITE_BUSY), sql = 6; testing: tests = 1
    ['sqlite database locked under load', 'Two writers hit SQLITE_BUSY; our tests pass but production SQL fails.', 'backend'],
  ];

  it.each(cases.map(([title, body, expected]) => ({ title, body, expected })))('$title → $expected', ({ title, body, expected }) => {
    const c = chooseSpecialty({ title, body, labels: ['bug'] });
    expect(c.specialty).toBe(expected);
    expect(c.reason.endsWith(`→ ${expected}`)).toBe(true);
  });
});

describe('labels that are not specialties', () => {
  it('skips status labels (ccc:queued, ccc:running, ccc:done, ccc:failed) and malformed names', () => {
    for (const status of ['ccc:queued', 'ccc:running', 'ccc:done', 'ccc:failed', 'ccc:has space', `ccc:${'x'.repeat(40)}`]) {
      expect(chooseSpecialty({ title: 'Fix the docker build', body: '', labels: [status] }).specialty, status).toBe('devops');
    }
    expect(chooseSpecialty({ title: 'x', body: '', labels: ['ccc:running', 'ccc:frontend'] }).specialty).toBe('frontend');
  });
});
