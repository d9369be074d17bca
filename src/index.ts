/**
 * The app's entry point and the bundle's: app-wide setup, then one import per trigger area.
 * Importing a module registers its functions with `@azure/functions`.
 */
import { app } from '@azure/functions';

app.setup({ enableHttpStream: false });

import './functions/smoke.js';
