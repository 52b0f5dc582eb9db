import { BadRequestError, badRequestFromIssues } from '@cns/service-kit';
import { z } from 'zod';
import type { ArticleInput } from './store';

export const MAX_AMOUNT = 100;
export const DEFAULT_AMOUNT = 10;
export const MAX_TITLE_LENGTH = 200;
export const MAX_URL_LENGTH = 2048;
export const MAX_AUTHOR_LENGTH = 100;

/** A required string field, trimmed and length-bounded, with messages that say what is wrong. */
function boundedText(max: number) {
  return (
    z
      .string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') })
      .trim()
      .min(1, { error: 'must not be empty' })
      .max(max, { error: `must be at most ${max} characters` })
      // PostgreSQL text cannot store U+0000.
      .refine((text) => !text.includes('\u0000'), { error: 'must not contain NUL (U+0000) characters' })
  );
}

export const articleInputSchema = z.object({
  title: boundedText(MAX_TITLE_LENGTH),
  url: boundedText(MAX_URL_LENGTH).pipe(z.url({ protocol: /^https?$/, hostname: z.regexes.hostname, error: 'must be an http(s) URL' })),
  author: boundedText(MAX_AUTHOR_LENGTH),
});

/** Validates a create body; unknown fields (including a client-sent `id`) are dropped. */
export function parseArticleInput(body: unknown): ArticleInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestError('body: must be a JSON object with title, url and author', 'body');
  }
  const result = articleInputSchema.safeParse(body);
  if (!result.success) throw badRequestFromIssues(result.error.issues);
  return result.data;
}

/** `amount` query parameter: a positive integer up to {@link MAX_AMOUNT}; absent means {@link DEFAULT_AMOUNT}. */
export function parseAmount(raw: unknown): number {
  if (raw === undefined) return DEFAULT_AMOUNT;
  if (typeof raw !== 'string' || !/^\d{1,6}$/.test(raw)) throw new BadRequestError('amount: must be a positive integer', 'amount');
  const amount = Number(raw);
  if (amount < 1) throw new BadRequestError('amount: must be a positive integer', 'amount');
  if (amount > MAX_AMOUNT) throw new BadRequestError(`amount: must be at most ${MAX_AMOUNT}`, 'amount');
  return amount;
}

/** `id` query parameter: required, a short string. */
export function parseId(raw: unknown): string {
  if (raw === undefined) throw new BadRequestError('id: query parameter is required', 'id');
  if (typeof raw !== 'string' || raw.trim() === '' || raw.length > 64)
    throw new BadRequestError('id: must be a non-empty string of at most 64 characters', 'id');
  return raw.trim();
}
