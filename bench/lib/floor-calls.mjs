// The upstream calls web-api makes for one getmultiple (web-api/src/aggregation.ts and versions.ts), as paths with
// the same query strings (form encoding, URLSearchParams), for the bench's floor: bench/floor-web-api.mjs makes
// them, and the bench records the real services' answers to them for bench/floor-upstream.mjs.
//   v1: GET /articles/v1/getmultiple?amount=5, then one GET /api/v1/getauthor?name=… per distinct author, in parallel
//   v2: GET /articles/v1/getmultiple?amount=10, then one GET /api/v1/getauthors?name=…&name=…

export const articlesPath = (version) => `/articles/v1/getmultiple?amount=${version === 'v1' ? 5 : 10}`;

/** The authors service matches names case-insensitively; so does web-api's merge. */
export const authorKey = (name) => name.trim().toLowerCase();

/** The distinct trimmed author names of an articles answer, first spelling kept (web-api's fetchAuthors). */
export function distinctAuthors(articles) {
  const byKey = new Map();
  for (const { author } of articles) if (author.trim() !== '' && !byKey.has(authorKey(author))) byKey.set(authorKey(author), author.trim());
  return [...byKey.values()];
}

/** v1: one path per author (called in parallel); v2: one batch path. */
export function authorPaths(version, names) {
  if (names.length === 0) return [];
  if (version === 'v2') return [`/api/v1/getauthors?${new URLSearchParams(names.map((name) => ['name', name]))}`];
  return names.map((name) => `/api/v1/getauthor?${new URLSearchParams({ name })}`);
}

/** web-api's answer: every article with its author's fields ('' when unknown). */
export function merge(articles, authorsByKey) {
  return articles.map((article) => {
    const author = authorsByKey.get(authorKey(article.author));
    return {
      id: String(article.id),
      title: article.title,
      url: article.url,
      authorName: article.author,
      authorBlog: author?.blog ?? '',
      authorTwitter: author?.twitter ?? '',
    };
  });
}
