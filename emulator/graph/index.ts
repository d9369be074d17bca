import { timingSafeEqual } from 'node:crypto';
import type { EmulatorContext, RegisterModule } from '../core/contract.js';
import { applicationRoutes } from './applications.js';
import { directoryObjectRoutes } from './directoryObjects.js';
import { servicePrincipalRoutes } from './servicePrincipals.js';
import { createGraphStore, hash } from './state.js';

/**
 * Microsoft Graph v1.0: applications, their passwords, service principals.
 * https://learn.microsoft.com/graph/api/resources/application
 * The objects and the checks every route shares are in state.ts; one file per resource registers its routes.
 */

export interface GraphSeed {
  applications?: Array<{
    id?: string;
    appId?: string;
    displayName: string;
    owners?: string[];
    passwords?: Array<{ secretText: string; endDateTime?: string; displayName?: string; keyId?: string }>;
    servicePrincipal?: { id?: string } | boolean;
  }>;
  /** Graph app roles (application permissions) per principal object id. */
  permissions?: Record<string, string[]>;
}

export const registerGraph: RegisterModule = (ctx: EmulatorContext) => {
  const store = createGraphStore(ctx);
  const { apps, sps, permissions, now, findApp, toAppJson, toSpJson, createApp, addPassword, createSp } = store;

  ctx.services.provide('appCredentials', {
    checkClientSecret(appId, secret) {
      const app = [...apps.values()].find((a) => a.appId.toLowerCase() === appId.toLowerCase());
      if (!app) return 'unknownClient';
      const h = hash(secret);
      const match = app.passwords.find((p) => timingSafeEqual(p.secretHash, h));
      if (!match) return 'invalidSecret';
      const t = now().getTime();
      if (t >= Date.parse(match.endDateTime)) return 'expiredSecret';
      if (t < Date.parse(match.startDateTime) - 5 * 60_000) return 'invalidSecret';
      return 'valid';
    },
  });

  applicationRoutes(store);
  servicePrincipalRoutes(store);
  directoryObjectRoutes(store);

  return {
    name: 'graph',
    snapshot: () => ({
      applications: [...apps.values()].map((a) => ({ ...toAppJson(a), owners: [...a.owners] })),
      servicePrincipals: [...sps.values()].map(toSpJson),
      permissions: Object.fromEntries([...permissions].map(([k, v]) => [k, [...v]])),
    }),
    seed(scenario) {
      const seed = scenario.graph as GraphSeed | undefined;
      if (!seed) return;
      for (const [oid, roles] of Object.entries(seed.permissions ?? {})) permissions.set(oid.toLowerCase(), new Set(roles));
      for (const a of seed.applications ?? []) {
        const app =
          findApp({ id: a.id?.toLowerCase() ?? '', appId: a.appId ?? '' }) ??
          createApp(a.displayName, undefined, { id: a.id, appId: a.appId });
        for (const o of a.owners ?? []) app.owners.add(o.toLowerCase());
        for (const p of a.passwords ?? []) addPassword(app, p, p.secretText, p.keyId);
        if (a.servicePrincipal && ![...sps.values()].some((s) => s.appId === app.appId)) {
          createSp(app, typeof a.servicePrincipal === 'object' ? a.servicePrincipal.id : undefined);
        }
      }
    },
    reset() {
      apps.clear();
      sps.clear();
      permissions.clear();
    },
  };
};
