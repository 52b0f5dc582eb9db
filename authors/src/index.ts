export { createAuthorsApp, MAX_BATCH_NAMES, MAX_NAME_LENGTH, type AuthorsAppOptions } from './app';
export { AUTHORS_DEFAULT_PORT, authorsConfigSchema } from './config';
export { AuthorDirectory, seedAuthors, type Author } from './directory';
