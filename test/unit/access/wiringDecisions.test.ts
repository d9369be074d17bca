/**
 * Issue 19: which Container App registry entry and which site settings the automation writes, keeps
 * or takes back — only ever what it wrote itself. Pure decisions, table-driven.
 * Shapes: RegistryCredentials in app/.../ContainerApps/stable/2025-01-01/ContainerApps.json; SiteConfig in
 * web/resource-manager/Microsoft.Web/stable/2024-04-01/examples/UpdateSiteConfig.json.
 */
import { describe, expect, it } from 'vitest';
import type { RegistryCredential } from '../../../src/azure/containerApps.js';
import { siteImageRegistry, toSiteWebConfig } from '../../../src/azure/siteConfig.js';
import {
  appRegistriesWith,
  appRegistriesWithout,
  decideAppRegistry,
  decideSiteIdentity,
  isSiteStillOurs,
  wiringIdentity,
} from '../../../src/access/wiringDecisions.js';
import type { WiredConfig } from '../../../src/assignments/grantIndex.js';
import { IDENTITY_KINDS, type ConsumerIdentity } from '../../../src/access/identities.js';

const SERVER = 'appsacr.azurecr.io';
const UAMI = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-app';
const ours = (identity: string): WiredConfig => ({ kind: 'containerAppRegistry', server: SERVER, identity });
const password: RegistryCredential = { server: SERVER, username: 'puller', passwordSecretRef: 'registry-password' };

describe('a Container App registry entry', () => {
  it.each<[string, RegistryCredential[], string, WiredConfig | undefined, string]>([
    ['none there: add ours', [], 'system', undefined, 'write'],
    ['ours, as wanted: nothing', [{ server: SERVER, identity: 'system' }], 'system', ours('system'), 'none'],
    [
      'ours, login server in other casing: nothing',
      [{ server: 'AppsAcr.azurecr.io', identity: 'system' }],
      'system',
      ours('system'),
      'none',
    ],
    [
      'ours, identity changed (system removed, user-assigned holds the role): update ours',
      [{ server: SERVER, identity: 'system' }],
      UAMI,
      ours('system'),
      'write',
    ],
    ['ours removed by someone: restore', [], 'system', ours('system'), 'write'],
    ['a password entry: theirs', [password], 'system', undefined, 'theirs'],
    ['another identity set by hand: theirs', [{ server: SERVER, identity: UAMI }], 'system', undefined, 'theirs'],
    ['ours changed by someone to a password: theirs from now on', [password], 'system', ours('system'), 'theirs'],
    ['already as wanted, set by hand: present, not claimed', [{ server: SERVER, identity: 'system' }], 'system', undefined, 'present'],
  ])('%s', (_, current, identity, recorded, expected) => {
    expect(decideAppRegistry(current, SERVER, identity, recorded).kind).toBe(expected);
  });

  it('drops its claim when someone changed its entry, and marks a restore', () => {
    expect(decideAppRegistry([password], SERVER, 'system', ours('system'))).toMatchObject({ kind: 'theirs', dropClaim: true });
    expect(decideAppRegistry([password], SERVER, 'system', undefined)).toMatchObject({ kind: 'theirs', dropClaim: false });
    expect(decideAppRegistry([], SERVER, 'system', ours('system'))).toEqual({ kind: 'write', restore: true });
  });

  it('writes the whole list with others’ entries passed back as they were, ours appended or replaced in place', () => {
    const other: RegistryCredential = { server: 'other.azurecr.io', username: 'u', passwordSecretRef: 's' };
    expect(appRegistriesWith([other], SERVER, 'system')).toEqual([other, { server: SERVER, identity: 'system' }]);
    expect(appRegistriesWith([{ server: SERVER, identity: 'system' }, other], SERVER, UAMI)).toEqual([
      { server: SERVER, identity: UAMI },
      other,
    ]);
  });

  it('takes back only the entry it wrote, as it wrote it', () => {
    const other: RegistryCredential = { server: 'other.azurecr.io', identity: 'system' };
    expect(appRegistriesWithout([{ server: SERVER, identity: 'system' }, other], ours('system'))).toEqual([other]);
    expect(appRegistriesWithout([password, other], ours('system'))).toBeUndefined();
    expect(appRegistriesWithout([{ server: SERVER, identity: UAMI }], ours('system'))).toBeUndefined();
    expect(appRegistriesWithout([other], ours('system'))).toBeUndefined();
  });
});

describe('a site’s acrUseManagedIdentityCreds', () => {
  const site = (acrUseManagedIdentityCreds: boolean, acrUserManagedIdentityID: string | null) =>
    toSiteWebConfig({ linuxFxVersion: `DOCKER|${SERVER}/web:1`, acrUseManagedIdentityCreds, acrUserManagedIdentityID });
  const recorded = (id: string): WiredConfig => ({ kind: 'siteAcrIdentity', acrUserManagedIdentityID: id });
  it.each<[string, ReturnType<typeof site>, string, WiredConfig | undefined, string]>([
    ['unset: set ours (system)', site(false, null), '', undefined, 'write'],
    ['unset: set ours (user-assigned client id)', site(false, ''), 'client-1', undefined, 'write'],
    ['ours as wanted: nothing', site(true, 'client-1'), 'client-1', recorded('client-1'), 'none'],
    ['ours, now another identity holds the role: update ours', site(true, ''), 'client-1', recorded(''), 'write'],
    ['ours cleared by someone: restore', site(false, null), '', recorded(''), 'write'],
    ['set by hand as wanted: present, not claimed', site(true, null), '', undefined, 'present'],
    ['set by hand to another identity: theirs', site(true, 'client-2'), 'client-1', undefined, 'theirs'],
    ['a client id without the switch, by hand: theirs', site(false, 'client-2'), '', undefined, 'theirs'],
    ['ours changed by someone to another identity: theirs', site(true, 'client-2'), 'client-1', recorded('client-1'), 'theirs'],
  ])('%s', (_, config, clientId, rec, expected) => {
    expect(decideSiteIdentity(config, clientId, rec).kind).toBe(expected);
  });

  it('is still ours only while both settings are as it wrote them', () => {
    expect(isSiteStillOurs(site(true, null), recorded(''))).toBe(true);
    expect(isSiteStillOurs(site(true, 'client-2'), recorded(''))).toBe(false);
    expect(isSiteStillOurs(site(false, null), recorded(''))).toBe(false);
  });

  it.each<[Record<string, unknown>, string | undefined]>([
    [{ linuxFxVersion: 'DOCKER|AppsAcr.azurecr.io/web:1' }, 'appsacr.azurecr.io'],
    [{ windowsFxVersion: 'DOCKER|appsacr.azurecr.io/win/web:ltsc2022' }, 'appsacr.azurecr.io'],
    [{ linuxFxVersion: 'DOCKER|nginx:latest' }, undefined],
    [{ linuxFxVersion: 'DOCKER|library/nginx:latest' }, undefined],
    [{ linuxFxVersion: 'NODE|20-lts' }, undefined],
    [{ linuxFxVersion: '' }, undefined],
    [{ linuxFxVersion: 'DOCKER|localhost:5000/web:1' }, 'localhost:5000'],
  ])('reads the image registry of %j as %s', (properties, expected) => {
    expect(siteImageRegistry(toSiteWebConfig(properties))).toBe(expected);
  });
});

describe('the identity to pull with', () => {
  const system: ConsumerIdentity = { principalId: 'P-SYS', kind: IDENTITY_KINDS.systemAssigned };
  const userB: ConsumerIdentity = {
    principalId: 'p-b',
    kind: IDENTITY_KINDS.userAssigned,
    identityResourceId: `${UAMI}-b`,
    clientId: 'c-b',
  };
  const userA: ConsumerIdentity = {
    principalId: 'p-a',
    kind: IDENTITY_KINDS.userAssigned,
    identityResourceId: `${UAMI}-a`,
    clientId: 'c-a',
  };
  it.each<[string, ConsumerIdentity[], string[], ConsumerIdentity | undefined]>([
    ['the system-assigned identity when it holds the role', [userA, system], ['p-sys', 'p-a'], system],
    ['a user-assigned identity when only it holds the role', [system, userA], ['p-a'], userA],
    ['the first user-assigned by id, deterministically', [userB, userA], ['p-a', 'p-b'], userA],
    ['none when no identity holds the role', [system, userA], [], undefined],
  ])('%s', (_, identities, holders, expected) => {
    expect(wiringIdentity(identities, new Set(holders))).toEqual(expected);
  });
});
