/** GitHub through @octokit/rest, retrying 5xx and waiting out rate limits (Octokit's own plugins). */
import { Octokit } from '@octokit/rest';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import Bottleneck from 'bottleneck';
import type { Logger } from '../shared/log.js';
import { STATUS_LABELS, type Forge, type ForgeComment, type NewPullRequest, type StatusLabel } from './forge.js';
import type { PullRequestRef } from './task-model.js';

const RetryingOctokit = Octokit.plugin(retry, throttling);

export interface GitHubForgeOptions {
  /** A personal access token; or, with a GitHub App, `tokenFor` gives each repository's installation token. */
  token?: string;
  tokenFor?: (repo: string) => Promise<string>;
  baseUrl: string;
  log: Logger;
  /** Delay unit of the retry plugin (ms); tests shorten it. */
  retryAfterBaseValue?: number;
  /** Spacing of write requests; by default the throttling plugin's own (1 s, as GitHub asks); tests use 0. */
  writeSpacingMs?: number;
}

function split(repo: string): { owner: string; repo: string } {
  const [owner, name] = repo.split('/') as [string, string];
  return { owner, repo: name };
}

export class GitHubForge implements Forge {
  readonly name = 'github';
  private readonly octokit: InstanceType<typeof RetryingOctokit>;

  constructor(opts: GitHubForgeOptions) {
    const log = opts.log;
    this.octokit = new RetryingOctokit({
      ...(opts.token ? { auth: opts.token } : {}),
      baseUrl: opts.baseUrl,
      userAgent: 'claude-code-cluster',
      retry: { retryAfterBaseValue: opts.retryAfterBaseValue ?? 1000 },
      throttle: {
        ...(opts.writeSpacingMs !== undefined ? { write: new Bottleneck.Group({ maxConcurrent: 1, minTime: opts.writeSpacingMs }) } : {}),
        onRateLimit: (retryAfter: number, options: { method: string; url: string }, _o: unknown, retryCount: number) => {
          log.warn({ retryAfter, method: options.method, url: options.url }, 'GitHub rate limit; waiting');
          return retryCount < 3;
        },
        onSecondaryRateLimit: (retryAfter: number, options: { method: string; url: string }, _o: unknown, retryCount: number) => {
          log.warn({ retryAfter, method: options.method, url: options.url }, 'GitHub secondary rate limit; waiting');
          return retryCount < 3;
        },
      },
      log: { debug: () => {}, info: () => {}, warn: (m: string) => log.warn(m), error: (m: string) => log.error(m) },
    });
    const tokenFor = opts.tokenFor;
    if (tokenFor) {
      // Every route the forge uses names {owner}/{repo}: authenticate as the App's installation there.
      // Pagination sends an expanded URL without the parameters, so the repository is read from the URL then.
      this.octokit.hook.before('request', async (options) => {
        const params = options as { owner?: string; repo?: string; url: string };
        const fromUrl = /\/repos\/([^/{}]+)\/([^/?{}]+)/.exec(params.url);
        const owner = params.owner ?? fromUrl?.[1];
        const repo = params.repo ?? fromUrl?.[2];
        if (owner && repo) options.headers.authorization = `token ${await tokenFor(`${owner}/${repo}`)}`;
      });
    }
  }

  async upsertComment(repo: string, issue: number, body: string, commentId: number | null): Promise<number> {
    if (commentId) {
      await this.octokit.rest.issues.updateComment({ ...split(repo), comment_id: commentId, body });
      return commentId;
    }
    const { data } = await this.octokit.rest.issues.createComment({ ...split(repo), issue_number: issue, body });
    return data.id;
  }

  async setStatusLabel(repo: string, issue: number, label: StatusLabel | null): Promise<void> {
    for (const other of STATUS_LABELS.filter((l) => l !== label)) {
      await this.octokit.rest.issues.removeLabel({ ...split(repo), issue_number: issue, name: other }).catch((err: { status?: number }) => {
        if (err.status !== 404) throw err; // 404: the issue did not have it
      });
    }
    if (label) await this.octokit.rest.issues.addLabels({ ...split(repo), issue_number: issue, labels: [label] });
  }

  async openPullRequest(pr: NewPullRequest): Promise<PullRequestRef> {
    const { data } = await this.octokit.rest.pulls.create({ ...split(pr.repo), head: pr.head, base: pr.base, title: pr.title, body: pr.body, draft: pr.draft ?? false });
    return { number: data.number, url: data.html_url };
  }

  async updatePullRequestBody(repo: string, number: number, body: string): Promise<void> {
    await this.octokit.rest.pulls.update({ ...split(repo), pull_number: number, body });
  }

  async findOpenPullRequest(repo: string, head: string): Promise<PullRequestRef | undefined> {
    const { owner, repo: name } = split(repo);
    const { data } = await this.octokit.rest.pulls.list({ owner, repo: name, head: `${owner}:${head}`, state: 'open', per_page: 1 });
    const pr = data[0];
    return pr && { number: pr.number, url: pr.html_url };
  }

  async comments(repo: string, issue: number): Promise<ForgeComment[]> {
    const list = await this.octokit.paginate(this.octokit.rest.issues.listComments, { ...split(repo), issue_number: issue, per_page: 100 });
    return list.map((c) => ({ author: c.user?.login ?? 'ghost', association: c.author_association, body: c.body ?? '', at: c.created_at }));
  }
}
