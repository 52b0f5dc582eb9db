// web-api v1: the shared web-api source with the v1 row of web-api/src/versions.ts.
import { startWebApi } from '@cns/web-api';

void startWebApi('v1');
