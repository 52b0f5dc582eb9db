// The sample articles and the sample authors live in two services; this keeps them in step.
import { seedAuthors } from '@cns/authors';
import { seedArticles } from '@cns/articles';

it('ships at least 12 sample articles whose authors all exist in the authors service', () => {
  expect(seedArticles.length).toBeGreaterThanOrEqual(12);
  const known = new Set(seedAuthors.map((a) => a.name));
  expect(seedArticles.filter((a) => !known.has(a.author))).toEqual([]);
  // Every sample author has at least one article, so the demo shows them all.
  expect(new Set(seedArticles.map((a) => a.author))).toEqual(known);
});
