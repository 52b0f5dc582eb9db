import { loadConfigOrExit, runServer } from '@cns/service-kit';
import { createArticlesApp } from './app';
import { articlesConfigSchema } from './config';
import { seedStore } from './seed';
import { MemoryArticleStore } from './store';

const config = loadConfigOrExit('articles', articlesConfigSchema);
const store = new MemoryArticleStore(Math.max(config.MAX_ARTICLES, config.SEED_EXTRA_ARTICLES + 100));
seedStore(store, config.SEED_EXTRA_ARTICLES);
void runServer(createArticlesApp({ store }), config);
