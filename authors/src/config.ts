import { serviceConfigSchema } from '@cns/service-kit';

/** The authors service listens on 3000 unless `PORT` says otherwise. */
export const AUTHORS_DEFAULT_PORT = 3000;

export const authorsConfigSchema = serviceConfigSchema(AUTHORS_DEFAULT_PORT);
