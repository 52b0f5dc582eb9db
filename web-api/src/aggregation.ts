import { ServiceUnavailableError, type Logger } from '@cns/service-kit';
import type { AxiosInstance } from 'axios';
import { z } from 'zod';
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

const upstreamArticles = z.array(z.object({ id: z.coerce.string(), title: z.string(), url: z.string(), author: z.string() }));
const upstreamAuthor = z.object({ name: z.string(), twitter: z.string(), blog: z.string() });
const upstreamAuthorBatch = z.object({ authors: z.array(upstreamAuthor) });
type UpstreamAuthor = z.infer<typeof upstreamAuthor>;

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

  constructor(private readonly options: AggregatorOptions) {}

  async getMultiple(): Promise<AggregatedArticles> {
    const deadline = Date.now() + this.options.timeoutMs;
    let articles: z.infer<typeof upstreamArticles>;
    try {
      articles = await this.fetchArticles();
    } catch (error) {
      const reason = describeFailure(error);
      this.options.logger.warn({ upstream: 'articles', reason, servingLastGood: this.lastGood !== undefined }, 'articles call failed');
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
        id: article.id,
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

  private async fetchArticles() {
    const response = await this.options.articlesClient.get('/articles/v1/getmultiple', {
      params: { amount: this.options.behaviour.articleCount },
      timeout: this.options.timeoutMs,
    });
    if (response.status !== 200) throw new Error(`status ${response.status}`);
    const parsed = upstreamArticles.safeParse(response.data);
    if (!parsed.success) throw new Error('unexpected response shape');
    return parsed.data;
  }

  /** Authors by {@link authorKey}; a missing entry means unknown or not answered in time. */
  private async fetchAuthors(names: string[], timeoutMs: number): Promise<Map<string, UpstreamAuthor>> {
    const found = new Map<string, UpstreamAuthor>();
    // One lookup per author, under the first spelling met.
    const byKey = new Map<string, string>();
    for (const name of names) if (name.trim() !== '' && !byKey.has(authorKey(name))) byKey.set(authorKey(name), name.trim());
    const distinct = [...byKey.values()];
    if (distinct.length === 0 || timeoutMs <= 0) return found;
    const { authorsClient, logger, behaviour } = this.options;
    const onFailure = (error: unknown) => {
      logger.warn({ upstream: 'authors', reason: describeFailure(error) }, 'authors call failed');
    };
    if (behaviour.authorLookup === 'batch') {
      const params = new URLSearchParams(distinct.map((name): [string, string] => ['name', name]));
      try {
        const response = await authorsClient.get('/api/v1/getauthors', { params, timeout: timeoutMs });
        if (response.status !== 200) throw new Error(`status ${response.status}`);
        for (const author of upstreamAuthorBatch.parse(response.data).authors) found.set(authorKey(author.name), author);
      } catch (error) {
        onFailure(error);
      }
      return found;
    }
    await Promise.all(
      distinct.map(async (name) => {
        try {
          const response = await authorsClient.get('/api/v1/getauthor', { params: { name }, timeout: timeoutMs });
          if (response.status === 404) return;
          if (response.status !== 200) throw new Error(`status ${response.status}`);
          found.set(authorKey(name), upstreamAuthor.parse(response.data));
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
    if (typeof code === 'string' && code !== '') return code;
    if (error instanceof z.ZodError) return 'unexpected response shape';
    if (error instanceof Error) return error.message;
  }
  return 'unknown error';
}
