/** HTTP: `POST /api/access/preview` (and manual grant/revoke as they land). Validation and mapping live in src/api. */
import { app } from '@azure/functions';
import { httpFunctionOptions } from '../api/http.js';
import { API, CALLER_POLICY } from '../api/wiring.js';

for (const route of API.access) app.http(route.name, httpFunctionOptions(route, CALLER_POLICY));
