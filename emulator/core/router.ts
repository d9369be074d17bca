import type { ApiName, Router, RouteHandler } from './contract.js';

export interface Route {
  readonly api: ApiName;
  readonly method: string;
  readonly pattern: RegExp;
  readonly handler: RouteHandler;
  /** The pattern as a path template for counters: `/v1.0/applications/{id}`. */
  readonly template: string;
}

/** `^/v1\.0/applications/(?<id>[^/]+)$` → `/v1.0/applications/{id}`. */
export function toTemplate(pattern: RegExp): string {
  return pattern.source
    .replace(/^\^/, '')
    .replace(/\$$/, '')
    .replace(/\\?\/\?$/, '')
    .replace(/\(\?<(\w+)>(?:[^()]|\([^()]*\))*\)/g, '{$1}')
    .replace(/\(\?:\/\)\?|\/\?$/g, '')
    .replace(/\\(.)/g, '$1');
}

/** The routes of every module, matched in registration order. */
export class RouteTable implements Router {
  private readonly routes: Route[] = [];
  private readonly rewrites: Array<(path: string) => string | undefined> = [];

  rewritePath(rewrite: (path: string) => string | undefined): void {
    this.rewrites.push(rewrite);
  }

  /** The path after every module's rewrite. */
  rewrite(path: string): string {
    let out = path;
    for (const r of this.rewrites) out = r(out) ?? out;
    return out;
  }

  add(api: ApiName, method: string, pattern: RegExp, handler: RouteHandler): void {
    this.routes.push({ api, method: method.toUpperCase(), pattern, handler, template: toTemplate(pattern) });
  }

  /** The matching route, or whether the path exists under another method (for 405). */
  match(
    method: string,
    path: string,
  ): { route: Route; params: Record<string, string> } | { route: undefined; pathMatched: Route | undefined } {
    let pathMatched: Route | undefined;
    for (const route of this.routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      if (route.method !== method.toUpperCase() && route.method !== '*') {
        pathMatched ??= route;
        continue;
      }
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries(m.groups ?? {})) if (v !== undefined) params[k] = safeDecode(v);
      return { route, params };
    }
    return { route: undefined, pathMatched };
  }
}

function safeDecode(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

/** Which API an unmatched path on the main listener belongs to, so its 404 has that API's shape. */
export function apiForPath(path: string): ApiName {
  const p = path.toLowerCase();
  if (p.startsWith('/admin')) return 'admin';
  if (p.startsWith('/v1.0') || p.startsWith('/beta')) return 'graph';
  if (p.startsWith('/msi')) return 'managedIdentity';
  if (p.includes('/oauth2/') || p.includes('/.well-known/') || p.startsWith('/common') || p.startsWith('/organizations')) return 'login';
  if (p.includes('/providers/microsoft.authorization/')) return 'authorization';
  if (p.includes('/providers/microsoft.resourcegraph/')) return 'resourceGraph';
  return 'arm';
}
