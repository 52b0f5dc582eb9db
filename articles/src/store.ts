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

/**
 * In-memory article store (being replaced by PostgresArticleStore). Articles are appended in creation order, so "newest first" is a walk from the
 * end of the array: `newest(n)` costs O(n) whatever the store size (no sort per request).
 */
export class MemoryArticleStore {
  private readonly inOrder: Article[] = [];
  private readonly byId = new Map<string, Article>();
  private nextId = 1;

  constructor(readonly capacity = Number.POSITIVE_INFINITY) {}

  get size(): number {
    return this.inOrder.length;
  }

  get isFull(): boolean {
    return this.inOrder.length >= this.capacity;
  }

  /** Stores a new article (the store assigns the id) and returns it. */
  add(input: ArticleInput): Article {
    const article: Article = { id: String(this.nextId++), title: input.title, url: input.url, author: input.author };
    this.inOrder.push(article);
    this.byId.set(article.id, article);
    return article;
  }

  get(id: string): Article | undefined {
    return this.byId.get(id);
  }

  /** The `amount` most recently added articles, newest first. */
  newest(amount: number): Article[] {
    const result: Article[] = [];
    for (let i = this.inOrder.length - 1; i >= 0 && result.length < amount; i--) result.push(this.inOrder[i]!);
    return result;
  }
}
