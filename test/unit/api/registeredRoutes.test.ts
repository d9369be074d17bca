import { describe, expect, it } from 'vitest';
import { installFunctionsCore } from '../../../devhost/functionsCore.js';

// Captures what the app registers with `app.http`, the way the Functions worker would, then
// checks each HTTP route against the OpenAPI document.
const registry = installFunctionsCore(() => undefined);

describe('registered HTTP routes', () => {
  it('appear in the OpenAPI document, each with every method the API serves', async () => {
    await import('../../../src/index.js');
    const { API } = await import('../../../src/api/wiring.js');
    const { buildOpenApiDocument } = await import('../../../src/api/openapi.js');
    const routes = [...API.access, ...API.credentials, API.audit, API.health, API.status, API.openapi];
    const doc = buildOpenApiDocument(routes, { version: 'test' });
    const http = registry.functions.filter((fn) => fn.trigger.type.toLowerCase() === 'httptrigger');
    expect(http.length).toBeGreaterThan(0);
    for (const fn of http) {
      const route = String(fn.trigger['route'] ?? fn.name);
      const path = `/api/${route}`;
      expect(doc.paths, `route ${route} of ${fn.name}`).toHaveProperty([path]);
      const documented = Object.keys(doc.paths[path]!);
      expect(documented.length, `${path} documents at least one method`).toBeGreaterThan(0);
      // Every method the route's operations serve is documented, and nothing more.
      const served = routes.find((r) => r.name === fn.name)?.operations.map((o) => o.method.toLowerCase());
      expect(served, `${fn.name} is one of the API's routes`).toBeDefined();
      expect(documented.sort(), path).toEqual(served!.sort());
    }
    // And nothing is documented that is not registered.
    const registeredPaths = new Set(http.map((fn) => `/api/${String(fn.trigger['route'] ?? fn.name)}`));
    for (const path of Object.keys(doc.paths)) expect(registeredPaths, path).toContain(path);
  });
});
