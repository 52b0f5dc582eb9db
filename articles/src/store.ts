/** An article as the articles service stores and returns it. */
export interface Article {
  id: string;
  title: string;
  url: string;
  author: string;
}

export type ArticleInput = Omit<Article, 'id'>;

/**
 * Where articles live. The service runs on {@link PostgresArticleStore} (postgres-store.ts); every
 * implementation passes the same contract tests (articles/test/store-contract.test.ts).
 */
export interface ArticleStore {
  /** The `amount` most recently added articles, newest first. */
  newest(amount: number): Promise<Article[]>;
  get(id: string): Promise<Article | undefined>;
  /** Stores a new article (the store assigns the id) and returns it; throws StoreFullError at capacity. */
  add(input: ArticleInput): Promise<Article>;
  count(): Promise<number>;
  /** For /readyz: false while the data cannot be reached. */
  isReachable(): Promise<boolean>;
  close(): Promise<void>;
}
