/** The demo repository `ccc up` puts in its local forge, so tasks have a real repository to work on. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const DEMO_REPO = 'demo/app';

const FILES: Record<string, string> = {
  'README.md': '# demo/app\n\nA small web app that the rehearsal cluster works on.\n',
  'server/app.py': 'from http.server import BaseHTTPRequestHandler\n\n\nclass Handler(BaseHTTPRequestHandler):\n    pass\n',
  'web/App.tsx': 'export function App() {\n  return <h1>demo</h1>;\n}\n',
  'tests/test_app.py': 'def test_placeholder():\n    assert True\n',
  'deploy/compose.yml': 'services:\n  app:\n    build: .\n',
};

/** Creates `<forgeRoot>/<repo>.git` (demo/app by default) with one commit on main, unless it exists. Returns its path. */
export function ensureDemoRepo(forgeRoot: string, repo = DEMO_REPO): string {
  const bare = join(forgeRoot, `${repo}.git`);
  if (existsSync(join(bare, 'HEAD'))) return bare;
  mkdirSync(dirname(bare), { recursive: true });
  const git = (args: string[], cwd?: string) => execFileSync('git', args, {
    cwd, stdio: 'ignore',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, GIT_AUTHOR_NAME: 'ccc up', GIT_AUTHOR_EMAIL: 'ccc@localhost', GIT_COMMITTER_NAME: 'ccc up', GIT_COMMITTER_EMAIL: 'ccc@localhost' },
  });
  git(['init', '--quiet', '--bare', '--initial-branch=main', bare]);
  const seed = mkdtempSync(join(tmpdir(), 'ccc-demo-'));
  try {
    git(['init', '--quiet', '--initial-branch=main', seed]);
    for (const [path, content] of Object.entries(FILES)) {
      mkdirSync(dirname(join(seed, path)), { recursive: true });
      writeFileSync(join(seed, path), content);
    }
    git(['add', '.'], seed);
    git(['commit', '--quiet', '-m', 'The demo app'], seed);
    git(['push', '--quiet', bare, 'main'], seed);
  } finally {
    rmSync(seed, { recursive: true, force: true });
  }
  return bare;
}
