import { NotFoundError, createServiceApp, type Logger, type ServiceApp } from '@cns/service-kit';
import { AuthorDirectory, type Author } from './directory';
import { parseAuthorName, parseAuthorNames } from './validation';

export { MAX_BATCH_NAMES, MAX_NAME_LENGTH } from './validation';

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
        const name = parseAuthorName(req.query);
        const author = directory.find(name);
        if (!author) throw new NotFoundError(`no author named ${JSON.stringify(name)}`);
        res.json(author);
      });

      app.get('/api/v1/getauthors', (req, res) => {
        // Names repeat the parameter (`?name=A&name=B`), so a name may itself contain a comma.
        const names = parseAuthorNames(req.query);
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
