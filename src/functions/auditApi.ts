/** HTTP: `GET /api/audit` — the audit trail, paged, newest first. */
import { app } from '@azure/functions';
import { httpFunctionOptions } from '../api/http.js';
import { API, CALLER_POLICY } from '../api/wiring.js';

app.http(API.audit.name, httpFunctionOptions(API.audit, CALLER_POLICY));
