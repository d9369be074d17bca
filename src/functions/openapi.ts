/** HTTP: `GET /api/openapi.json` — the OpenAPI 3.1 document (anonymous: it holds no data). */
import { app } from '@azure/functions';
import { httpFunctionOptions } from '../api/http.js';
import { API, CALLER_POLICY } from '../api/wiring.js';

app.http(API.openapi.name, httpFunctionOptions(API.openapi, CALLER_POLICY));
