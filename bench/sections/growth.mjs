// Section 6 of `npm run bench`: getmultiple with 100,000 stored articles (PostgreSQL) vs the 14 samples, requests
// alternated.
import { alternate } from '../lib/alternate.mjs';
import { degradedReason } from '../lib/degraded.mjs';
import { checkGetmultiple, log, startDirectStack } from '../lib/harness.mjs';
import { wrk } from '../lib/load.mjs';
import { rssMb } from '../lib/proc-stats.mjs';
import { GROWTH, STACK_CONNECTIONS, T, versionArticleCount } from '../lib/settings.mjs';

/**
 * getmultiple with 100,000 generated articles in the database vs the 14 samples only: two direct stacks
 * (articles, authors, web-api v1; each articles with a local PostgreSQL of its own), started together and warmed
 * alike (wrk, A B B A), then measured request by request, alternately (A B, B A, ...) so that whatever else the
 * machine does falls on both sides. The samples side used to be the whole-stack section's stack, warmed by minutes
 * of wrk, against 20 requests for the 100,000 one: that difference alone measured 1.2–1.6.
 */
export async function growthSection() {
  log('growth: 100,000 stored articles vs the 14 samples');
  const [small, big] = await Promise.all([startDirectStack('-samples'), startDirectStack('-100k', { SEED_EXTRA_ARTICLES: '100000' })]);
  const getmultipleUrl = (s) => `http://127.0.0.1:${s.webApi.port}/web-api/v1/getmultiple`;
  const articlesUrl = (s) => `http://127.0.0.1:${s.articles.port}/articles/v1/getmultiple?amount=${versionArticleCount.v1}`;
  await checkGetmultiple('growth/samples', getmultipleUrl(small));
  await checkGetmultiple('growth/100k', getmultipleUrl(big));
  for (const s of [small, big, big, small]) await wrk(getmultipleUrl(s), { seconds: T.warm, connections: STACK_CONNECTIONS });
  log(`growth: ${GROWTH.getmultiplePairs} getmultiple pairs at 10 req/s per stack, alternated`);
  const getmultiple = await alternate(
    { a: getmultipleUrl(small), b: getmultipleUrl(big) },
    { pairs: GROWTH.getmultiplePairs, intervalMs: 100, classify: degradedReason },
  );
  // The store itself, faster (an articles call is cheap): the part that could grow with the size.
  log(`growth: ${GROWTH.articlesPairs} articles-call pairs, alternated`);
  const articlesCall = await alternate({ a: articlesUrl(small), b: articlesUrl(big) }, { pairs: GROWTH.articlesPairs, intervalMs: 10 });
  const articlesRssMb = { samples: rssMb(small.articles.pid), hundredThousand: rssMb(big.articles.pid) };
  await Promise.all([small.stop(), big.stop()]);
  return {
    description: `two direct stacks (articles, authors, web-api v1), one with SEED_EXTRA_ARTICLES=100000; warmed alike (wrk -c${STACK_CONNECTIONS} ${T.warm}s each, A B B A); then getmultiple requests alternated one by one (A B, B A, ...; one keep-alive connection per side) at 10 req/s per stack, and the articles call (amount=${versionArticleCount.v1}) the same way at up to 100 req/s per side`,
    samples: getmultiple.a,
    hundredThousand: getmultiple.b,
    ratioP50: getmultiple.ratioP50,
    ratioP90: getmultiple.ratioP90,
    blockRatiosP50: getmultiple.blockRatiosP50,
    degradedAnswers: getmultiple.a.answers.degraded + getmultiple.b.answers.degraded,
    articlesCall: {
      samples: articlesCall.a,
      hundredThousand: articlesCall.b,
      ratioP50: articlesCall.ratioP50,
      ratioP90: articlesCall.ratioP90,
      blockRatiosP50: articlesCall.blockRatiosP50,
    },
    articlesRssMb,
  };
}
