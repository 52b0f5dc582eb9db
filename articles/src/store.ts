/** An article as the articles service stores and returns it. */
export interface Article {
  id: string;
  title: string;
  url: string;
  author: string;
}

export type ArticleInput = Omit<Article, 'id'>;

/**
 * In-memory article store. Articles are appended in creation order, so "newest first" is a walk from the
 * end of the array: `newest(n)` costs O(n) whatever the store size (no sort per request).
 */
export class ArticleStore {
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
