import { ServiceUnavailableError, UPSTREAM_OVERFLOW, type Logger } from '@cns/service-kit';
import type { AxiosInstance } from 'axios';
import { RepeatedWarnings } from './repeated-warnings';
import type { VersionBehaviour } from './versions';

/** One entry of `GET /web-api/v1/getmultiple`. */
export interface WebApiArticle {
  id: string;
  title: string;
  url: string;
  authorName: string;
  /** `''` when the authors service did not answer in time or does not know the author. */
  authorBlog: string;
  authorTwitter: string;
}

interface UpstreamArticle {
  id: string | number;
  title: string;
  url: string;
  author: string;
}
interface UpstreamAuthor {
  name: string;
  twitter: string;
  blog: string;
}

/**
 * The upstream answers are our own services' JSON: a shape check (the fields web-api reads, with their types)
 * instead of a schema parse that copies every object. A wrong shape still counts as a failed call.
 */
class UnexpectedShapeError extends Error {
  constructor() {
    super('unexpected response shape');
  }
}
const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;
const isArticle = (a: unknown): a is UpstreamArticle =>
  isRecord(a) &&
  (typeof a.id === 'string' || typeof a.id === 'number') &&
  typeof a.title === 'string' &&
  typeof a.url === 'string' &&
  typeof a.author === 'string';
const isAuthor = (a: unknown): a is UpstreamAuthor => isRecord(a) && typeof a.name === 'string' && typeof a.twitter === 'string' && typeof a.blog === 'string';

function checkedArticles(data: unknown): UpstreamArticle[] {
  if (!Array.isArray(data) || !data.every(isArticle)) throw new UnexpectedShapeError();
  return data;
}
function checkedAuthor(data: unknown): UpstreamAuthor {
  if (!isAuthor(data)) throw new UnexpectedShapeError();
  return data;
}
function checkedAuthorBatch(data: unknown): UpstreamAuthor[] {
  if (!isRecord(data) || !Array.isArray(data.authors) || !data.authors.every(isAuthor)) throw new UnexpectedShapeError();
  return data.authors;
}

/** `/api/v1/getauthor?name=…` (form encoding, as axios' params serializer writes it). */
const authorPath = (name: string) => `/api/v1/getauthor?${new URLSearchParams({ name })}`;

export interface AggregatorOptions {
  articlesClient: AxiosInstance;
  authorsClient: AxiosInstance;
  behaviour: VersionBehaviour;
  /** Deadline for all upstream calls of one request together. */
  timeoutMs: number;
  logger: Logger;
}

export interface AggregatedArticles {
  articles: WebApiArticle[];
  /** True when articles failed and this is the last good answer. */
  stale: boolean;
}

/** The authors service matches names case-insensitively; so does the merge. */
const authorKey = (name: string) => name.trim().toLowerCase();

/**
 * Builds the front-page list: one call to articles, then the distinct authors (in parallel or in one batch
 * call) within what remains of the deadline. Authors failing only blanks the author fields; articles failing
 * serves the last good answer, or a 503 when there is none yet.
 */
export class ArticleAggregator {
  private lastGood: WebApiArticle[] | undefined;
  /** A failing upstream is logged once per kind of failure and interval, with a count (repeated-warnings.ts). */
  private readonly warnings: RepeatedWarnings;
  /** The articles call's path, built once (no params serialisation per request). */
  private readonly articlesPath: string;

  constructor(private readonly options: AggregatorOptions) {
    this.articlesPath = `/articles/v1/getmultiple?amount=${options.behaviour.articleCount}`;
    this.warnings = new RepeatedWarnings(options.logger);
  }

  /** True once an aggregation succeeded: the replica has an answer to serve when articles is slow (readiness). */
  get hasLastGood(): boolean {
    return this.lastGood !== undefined;
  }

  /** `timeoutMs`: the budget of the whole aggregation (a request's UPSTREAM_TIMEOUT_MS, or the warm-up's own). */
  async getMultiple(timeoutMs = this.options.timeoutMs): Promise<AggregatedArticles> {
    const deadline = Date.now() + timeoutMs;
    let articles: UpstreamArticle[];
    try {
      articles = await this.fetchArticles(timeoutMs);
    } catch (error) {
      const reason = describeFailure(error);
      this.warnings.warn(`articles|${reason}`, { upstream: 'articles', reason, servingLastGood: this.lastGood !== undefined }, 'articles call failed');
      if (this.lastGood) return { articles: this.lastGood, stale: true };
      throw new ServiceUnavailableError(`articles service is unavailable (${reason}) and there is no earlier answer to serve`);
    }
    const authors = await this.fetchAuthors(
      articles.map((a) => a.author),
      deadline - Date.now(),
    );
    const merged = articles.map((article): WebApiArticle => {
      const author = authors.get(authorKey(article.author));
      return {
        id: String(article.id),
        title: article.title,
        url: article.url,
        authorName: article.author,
        authorBlog: author?.blog ?? '',
        authorTwitter: author?.twitter ?? '',
      };
    });
    this.lastGood = merged;
    return { articles: merged, stale: false };
  }

  /**
   * One aggregation within `timeoutMs` (see {@link WarmUp}): it opens the keep-alive connections to both upstreams,
   * runs the code path once and leaves a last good answer. Never throws; false when articles did not answer.
   */
  async warmUp(timeoutMs?: number): Promise<boolean> {
    try {
      await this.getMultiple(timeoutMs);
      return true;
    } catch {
      return false;
    }
  }

  private async fetchArticles(timeoutMs: number) {
    const response = await this.options.articlesClient.get(this.articlesPath, { timeout: timeoutMs });
    if (response.status !== 200) throw new Error(`status ${response.status}`);
    return checkedArticles(response.data);
  }

  /** Authors by {@link authorKey}; a missing entry means unknown or not answered in time. */
  private async fetchAuthors(names: string[], timeoutMs: number): Promise<Map<string, UpstreamAuthor>> {
    const found = new Map<string, UpstreamAuthor>();
    // One lookup per author, under the first spelling met.
    const byKey = new Map<string, string>();
    for (const name of names) if (name.trim() !== '' && !byKey.has(authorKey(name))) byKey.set(authorKey(name), name.trim());
    const distinct = [...byKey.values()];
    if (distinct.length === 0 || timeoutMs <= 0) return found;
    const { authorsClient, behaviour } = this.options;
    const onFailure = (error: unknown) => {
      const reason = describeFailure(error);
      this.warnings.warn(`authors|${reason}`, { upstream: 'authors', reason }, 'authors call failed');
    };
    if (behaviour.authorLookup === 'batch') {
      const query = new URLSearchParams(distinct.map((name): [string, string] => ['name', name]));
      try {
        const response = await authorsClient.get(`/api/v1/getauthors?${query}`, { timeout: timeoutMs });
        if (response.status !== 200) throw new Error(`status ${response.status}`);
        for (const author of checkedAuthorBatch(response.data)) found.set(authorKey(author.name), author);
      } catch (error) {
        onFailure(error);
      }
      return found;
    }
    await Promise.all(
      distinct.map(async (name) => {
        try {
          const response = await authorsClient.get(authorPath(name), { timeout: timeoutMs });
          if (response.status === 404) return;
          if (response.status !== 200) throw new Error(`status ${response.status}`);
          found.set(authorKey(name), checkedAuthor(response.data));
        } catch (error) {
          onFailure(error);
        }
      }),
    );
    return found;
  }
}

/** A short reason for logs and 503 messages: never the upstream's body or a stack. */
export function describeFailure(error: unknown): string {
  if (error && typeof error === 'object') {
    const code = (error as { code?: unknown }).code;
    if (code === 'ECONNABORTED' || code === 'ETIMEDOUT') return 'timed out';
    if (code === UPSTREAM_OVERFLOW) return 'too many calls in flight, not sent';
    if (typeof code === 'string' && code !== '') return code;
    if (error instanceof Error) return error.message;
  }
  return 'unknown error';
}
