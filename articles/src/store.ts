/** An article as the articles service stores and returns it. */
export interface Article {
  id: string;
  title: string;
  url: string;
  author: string;
}

export type ArticleInput = Omit<Article, 'id'>;

/** What a create with an Idempotency-Key did: stored a new article, or found the one a first attempt stored. */
export interface IdempotentCreate {
  article: Article;
  /** True when the key was already used for the same request: nothing was stored now. */
  replayed: boolean;
}

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
  /**
   * {@link add} at most once per `key`: a later call with the same key and the same input returns the article the
   * first one stored; the same key with another input throws IdempotencyKeyReusedError (422).
   */
  addOnce(input: ArticleInput, key: string): Promise<IdempotentCreate>;
  count(): Promise<number>;
  /** For /readyz: false while the data cannot be reached. */
  isReachable(): Promise<boolean>;
  close(): Promise<void>;
}
