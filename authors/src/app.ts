import { BadRequestError, NotFoundError, createServiceApp, type Logger, type ServiceApp } from '@cns/service-kit';
import { AuthorDirectory, type Author } from './directory';

export const MAX_NAME_LENGTH = 100;
export const MAX_BATCH_NAMES = 50;

/** Reads one query parameter as a single string (`?name=a&name=b` is an error, not an array). */
function singleQueryValue(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new BadRequestError(`${field}: must be given once`, field);
  return value;
}

function checkedName(raw: string, field: string): string {
  const name = raw.trim();
  if (name === '') throw new BadRequestError(`${field}: must not be empty`, field);
  if (name.length > MAX_NAME_LENGTH) throw new BadRequestError(`${field}: must be at most ${MAX_NAME_LENGTH} characters`, field);
  return name;
}

export interface AuthorsAppOptions {
  directory?: AuthorDirectory;
  logger?: Logger;
}

/**
 * The authors service: `GET /api/v1/getauthor?name=NAME` → `{ name, twitter, blog }`, and a batch lookup
 * `GET /api/v1/getauthors?name=A&name=B` → `{ authors: [...], notFound: [...] }` for callers that need several.
 */
export function createAuthorsApp(options: AuthorsAppOptions = {}): ServiceApp {
  const directory = options.directory ?? new AuthorDirectory();
  return createServiceApp({
    service: 'authors',
    logger: options.logger,
    routes(app) {
      app.get('/api/v1/getauthor', (req, res) => {
        const raw = singleQueryValue(req.query.name, 'name');
        if (raw === undefined) throw new BadRequestError('name: query parameter is required', 'name');
        const name = checkedName(raw, 'name');
        const author = directory.find(name);
        if (!author) throw new NotFoundError(`no author named ${JSON.stringify(name)}`);
        res.json(author);
      });

      app.get('/api/v1/getauthors', (req, res) => {
        // Names repeat the parameter (`?name=A&name=B`), so a name may itself contain a comma.
        const raw = req.query.name;
        if (raw === undefined) throw new BadRequestError('name: give at least one name parameter (?name=A&name=B)', 'name');
        const values = Array.isArray(raw) ? raw : [raw];
        if (values.some((v) => typeof v !== 'string')) throw new BadRequestError('name: must be plain strings', 'name');
        const names = [...new Set((values as string[]).map((n) => checkedName(n, 'name')))];
        if (names.length > MAX_BATCH_NAMES) throw new BadRequestError(`name: at most ${MAX_BATCH_NAMES} names per call`, 'name');
        // A Set of authors, so two spellings of one name give it once.
        const authors = new Set<Author>();
        const notFound: string[] = [];
        for (const name of names) {
          const author = directory.find(name);
          if (author) authors.add(author);
          else notFound.push(name);
        }
        res.json({ authors: [...authors], notFound });
      });
    },
  });
}
