/** HTTP: `GET /api/status` — the status page (function key, or Access.Read with App Service Authentication). */
import { app } from '@azure/functions';
import { httpFunctionOptions } from '../api/http.js';
import { API, CALLER_POLICY } from '../api/wiring.js';

app.http(API.status.name, httpFunctionOptions(API.status, CALLER_POLICY));
