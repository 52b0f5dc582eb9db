import { loadConfigOrExit, runServer } from '@cns/service-kit';
import { createAuthorsApp } from './app';
import { authorsConfigSchema } from './config';

const config = loadConfigOrExit('authors', authorsConfigSchema);
void runServer(createAuthorsApp(), config);
