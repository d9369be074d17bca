/** HTTP: `GET /api/health` — settings, dependencies, role-assignment headroom (function key required). */
import { app } from '@azure/functions';
import { httpFunctionOptions } from '../api/http.js';
import { API, CALLER_POLICY } from '../api/wiring.js';

app.http(API.health.name, httpFunctionOptions(API.health, CALLER_POLICY));
