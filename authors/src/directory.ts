/** What the authors service knows about an author. */
export interface Author {
  name: string;
  /** Social handle, e.g. `@adaquill`. */
  twitter: string;
  /** Blog URL. */
  blog: string;
}

/** Fictional authors written for this project (their `.example` URLs cannot point anywhere real). */
export const seedAuthors: readonly Author[] = [
  { name: 'Ada Quill', twitter: '@adaquill', blog: 'https://adaquill.example/blog' },
  { name: 'Milo Brandt', twitter: '@milobrandt', blog: 'https://milo-brandt.example' },
  { name: 'Priya Raman', twitter: '@priya_ops', blog: 'https://priyaraman.example/notes' },
  { name: 'Tomas Ferreira', twitter: '@tferreira_dev', blog: 'https://tomasferreira.example' },
  { name: 'Hana Okafor', twitter: '@hanaokafor', blog: 'https://hana-okafor.example/writing' },
];

/** Looks authors up by name, ignoring case and surrounding spaces. */
export class AuthorDirectory {
  private readonly byKey = new Map<string, Author>();

  constructor(authors: readonly Author[] = seedAuthors) {
    for (const author of authors) this.byKey.set(keyOf(author.name), author);
  }

  find(name: string): Author | undefined {
    return this.byKey.get(keyOf(name));
  }
}

function keyOf(name: string): string {
  return name.trim().toLowerCase();
}
