// web-api v2: the shared web-api source with the v2 row of web-api/src/versions.ts.
import { startWebApi } from '@cns/web-api';

void startWebApi('v2');
