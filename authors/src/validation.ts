/**
 * The query parameters of the two lookups, checked with zod like articles' inputs. The schemas are built once,
 * when the module loads, so a request only runs them.
 */
import { badRequestFromIssues } from '@cns/service-kit';
import { z } from 'zod';

export const MAX_NAME_LENGTH = 100;
export const MAX_BATCH_NAMES = 50;

function authorName(typeError: (input: unknown) => string) {
  return z
    .string({ error: (issue) => typeError(issue.input) })
    .trim()
    .min(1, { error: 'must not be empty' })
    .max(MAX_NAME_LENGTH, { error: `must be at most ${MAX_NAME_LENGTH} characters` });
}

/** `?name=NAME`, once: a repeated parameter arrives as an array and is refused. */
const singleNameQuery = z.object({
  name: authorName((input) => (input === undefined ? 'query parameter is required' : 'must be given once')),
});

/** `?name=A&name=B`: one or more names (a name may contain a comma), at most MAX_BATCH_NAMES different ones. */
const nameListQuery = z.object({
  name: z
    .preprocess(
      (value) => (value === undefined || Array.isArray(value) ? value : [value]),
      z.array(
        authorName(() => 'must be plain strings'),
        { error: 'give at least one name parameter (?name=A&name=B)' },
      ),
    )
    .transform((names) => [...new Set(names)])
    .refine((names) => names.length <= MAX_BATCH_NAMES, { error: `at most ${MAX_BATCH_NAMES} names per call` }),
});

/** A 400 naming the parameter (not the index of a repeated one: `name`, not `name.3`). */
function badQuery(error: z.ZodError): Error {
  return badRequestFromIssues(error.issues.map((issue) => ({ path: issue.path.slice(0, 1), message: issue.message })));
}

/** The trimmed name of `GET /api/v1/getauthor`; throws a 400 BadRequestError. */
export function parseAuthorName(query: unknown): string {
  const result = singleNameQuery.safeParse(query);
  if (!result.success) throw badQuery(result.error);
  return result.data.name;
}

/** The distinct trimmed names of `GET /api/v1/getauthors`, in request order; throws a 400 BadRequestError. */
export function parseAuthorNames(query: unknown): string[] {
  const result = nameListQuery.safeParse(query);
  if (!result.success) throw badQuery(result.error);
  return result.data.name;
}
