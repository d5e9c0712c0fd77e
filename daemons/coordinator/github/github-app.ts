/**
 * The coordinator as a GitHub App (@octokit/auth-app: it signs the App's JWTs and caches installation
 * tokens until a minute before they expire). It gives the forge an installation token per repository,
 * mints per-task push tokens limited to one repository with `contents: write`, and revokes them.
 */
import { createAppAuth } from '@octokit/auth-app';
import { Octokit } from '@octokit/rest';
import { CccError } from '../../shared/errors.js';
import type { GitHubAppCredentials } from '../../shared/github-app-key.js';

/** The only permission a push token carries. */
export const PUSH_PERMISSIONS = { contents: 'write' } as const;

export interface PushToken {
  token: string;
  expiresAt: string;
}

function split(repo: string): { owner: string; repo: string } {
  const [owner, name] = repo.split('/') as [string, string];
  return { owner, repo: name };
}

export class GitHubApp {
  private readonly request;
  private readonly auth;

  constructor(credentials: GitHubAppCredentials, baseUrl: string) {
    this.request = new Octokit({ baseUrl, userAgent: 'claude-code-cluster' }).request;
    this.auth = createAppAuth({ appId: credentials.appId, privateKey: credentials.privateKey, request: this.request });
  }

  /** The installation of the App on `repo`, asked of GitHub with the App's JWT. */
  async installationOf(repo: string): Promise<number> {
    const { token } = await this.auth({ type: 'app' });
    try {
      const { data } = await this.request('GET /repos/{owner}/{repo}/installation', { ...split(repo), headers: { authorization: `bearer ${token}` } });
      return data.id;
    } catch (err) {
      if ((err as { status?: number }).status === 404) throw new CccError(`the GitHub App is not installed on ${repo}: install it there (docs/github-app.md)`, 'github_app');
      throw err;
    }
  }

  /** An installation token for the forge's own calls (comments, labels, pull requests), from the library's cache. */
  async installationToken(installationId: number): Promise<string> {
    return (await this.auth({ type: 'installation', installationId })).token;
  }

  /** A fresh token that can push to `repo` only (contents: write, nothing else); never from the cache. */
  async mintPushToken(installationId: number, repo: string): Promise<PushToken> {
    const name = split(repo).repo;
    const auth = await this.auth({ type: 'installation', installationId, repositoryNames: [name], permissions: { ...PUSH_PERMISSIONS }, refresh: true });
    const granted = Object.entries(auth.permissions ?? {});
    const scoped = auth.repositoryNames?.length === 1 && auth.repositoryNames[0] === name;
    if (!scoped || granted.length !== 1 || auth.permissions.contents !== 'write') {
      await this.revoke(auth.token).catch(() => undefined);
      throw new CccError(`GitHub granted a push token wider than ${repo} with contents: write; it was revoked at once`, 'github_app');
    }
    return { token: auth.token, expiresAt: auth.expiresAt };
  }

  /** Revokes an installation token (DELETE /installation/token, authenticated by the token itself). */
  async revoke(token: string): Promise<void> {
    await this.request('DELETE /installation/token', { headers: { authorization: `token ${token}` } });
  }
}
