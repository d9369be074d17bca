/** HTTP: `GET|POST /api/credentials`, `POST /api/credentials/{registry}/rotate`, `DELETE /api/credentials/{registry}`. */
import { app } from '@azure/functions';
import { httpFunctionOptions } from '../api/http.js';
import { API, CALLER_POLICY } from '../api/wiring.js';

for (const route of API.credentials) app.http(route.name, httpFunctionOptions(route, CALLER_POLICY));
