/**
 * The app's entry point and the bundle's: app-wide setup, then one import per trigger area.
 * Importing a module registers its functions with `@azure/functions`.
 */
import { app } from '@azure/functions';
import { startTelemetry } from './azure/telemetry.js';

app.setup({ enableHttpStream: false });
// Metrics: Application Insights when its connection string is set, always readable in process.
void startTelemetry(process.env);

import './functions/resourceEvents.js';
import './functions/rotateCredentials.js';
import './functions/reconcileSweep.js';
import './functions/accessApi.js';
import './functions/credentialsApi.js';
import './functions/auditApi.js';
import './functions/healthApi.js';
import './functions/openapi.js';
import './functions/statusPage.js';
