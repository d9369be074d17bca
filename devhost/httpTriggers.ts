/**
 * HTTP-triggered functions under the route prefix (`/api` by default): route matching by
 * precedence, 404 / 405 with `Allow`, the function's auth level, and the RPC request the worker
 * hands the function.
 */
import type { RegisteredFunction, RpcHttpData } from './functionsCore.js';
import { describe, flattenHeaders, send, sendHttpResult, type HostRequest, type HostRuntime } from './hostRequest.js';
import { compileRoute, type CompiledRoute } from './routes.js';

interface HttpRoute {
  readonly fn: RegisteredFunction;
  readonly route: CompiledRoute;
  readonly methods: readonly string[];
  readonly authLevel: string;
}

/** The handler for every request outside `/admin` and the webhooks. */
export function httpTriggerHandler({ registry, keys, invoke, hostLog }: HostRuntime, routePrefix: string) {
  const httpRoutes: HttpRoute[] = registry.functions
    .filter((fn) => fn.trigger.type.toLowerCase() === 'httptrigger')
    .map((fn) => ({
      fn,
      route: compileRoute(String(fn.trigger['route'] ?? fn.name)),
      methods: ((fn.trigger['methods'] as string[] | undefined) ?? ['GET', 'POST']).map((m) => m.toUpperCase()),
      authLevel: String(fn.trigger['authLevel'] ?? 'function').toLowerCase(),
    }))
    .sort((a, b) => a.route.precedence - b.route.precedence);

  return async ({ req, res, url, method, body, givenKey: given }: HostRequest): Promise<void> => {
    const path = url.pathname;
    const prefix = routePrefix ? `/${routePrefix}` : '';
    if (prefix && !(path.toLowerCase() === prefix.toLowerCase() || path.toLowerCase().startsWith(`${prefix.toLowerCase()}/`)))
      return send(res, 404);
    const routePath = path.slice(prefix.length) || '/';
    const matches = httpRoutes.map((r) => ({ r, params: r.route.match(routePath) })).filter((m) => m.params !== undefined);
    if (matches.length === 0) return send(res, 404);
    const match = matches.find((m) => m.r.methods.includes(method));
    if (!match) {
      const allow = [...new Set(matches.flatMap((m) => m.r.methods))].join(', ');
      return send(res, 405, undefined, { allow });
    }
    const { r, params } = match;
    if (r.authLevel === 'function' && given !== keys.functionKey && given !== keys.masterKey) return send(res, 401);
    if (r.authLevel === 'admin' && given !== keys.masterKey) return send(res, 401);

    const http: RpcHttpData = {
      method,
      url: `http://${req.headers.host ?? '127.0.0.1'}${req.url ?? '/'}`,
      headers: flattenHeaders(req),
      query: Object.fromEntries(url.searchParams),
      params: params ?? {},
      // A body sent without Content-Length (Transfer-Encoding: chunked) reaches the function empty,
      // as it does on Azure: Azure/azure-functions-host#4926, Azure/azure-functions-nodejs-library#171.
      body: body.length > 0 && req.headers['content-length'] !== undefined ? { bytes: body } : undefined,
    };
    let response;
    try {
      response = await invoke(r.fn, { triggerData: { http }, triggerMetadata: {} });
    } catch (error) {
      hostLog('error', `Function ${r.fn.name} failed: ${describe(error)}`);
      return send(res, 500);
    }
    return sendHttpResult(res, response.returnValue?.http ?? undefined);
  };
}
