/**
 * The Graph `$filter` clauses real tools send (https://learn.microsoft.com/graph/filter-query-parameter;
 * `az ad sp show --id <appId>` and `az role assignment create --assignee <appId>` send
 * `servicePrincipalNames/any(c:c eq '<appId>')`, `az ad sp list --display-name` sends
 * `startswith(displayName,'…')`); anything else stays `Request_UnsupportedQuery`.
 */
import { describe, expect, it } from 'vitest';
import { parseGraphFilter, type GraphObjectView } from '../../../emulator/graph/filter.js';

const ci: GraphObjectView = {
  id: '0c000000-0000-4000-8000-0000000000a1',
  appId: '0c000000-0000-4000-8000-0000000000c1',
  displayName: 'ci-pull',
  servicePrincipalNames: ['0c000000-0000-4000-8000-0000000000c1'],
};
const mi: GraphObjectView = {
  id: '0e000000-0000-4000-8000-0000000000a1',
  appId: '0e000000-0000-4000-8000-0000000000c1',
  displayName: "o'brien-identity",
  servicePrincipalNames: [
    '0e000000-0000-4000-8000-0000000000c1',
    '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1',
  ],
};

describe('Graph $filter on service principals', () => {
  it.each([
    [`servicePrincipalNames/any(c:c eq '${ci.appId}')`, [true, false]],
    [
      `servicePrincipalNames/any(x:x eq '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1')`,
      [false, true],
    ],
    ["startswith(displayName,'CI-')", [true, false]],
    ["startswith(displayName, 'o''brien')", [false, true]],
    [`appId eq '${mi.appId.toUpperCase()}'`, [false, true]],
    ["displayName eq 'ci-pull'", [true, false]],
    [`id eq '${ci.id}'`, [true, false]],
    [`startswith(displayName,'ci') and appId eq '${ci.appId}'`, [true, false]],
  ] as const)('%s', (filter, expected) => {
    const f = parseGraphFilter(filter, 'servicePrincipals');
    if (f === undefined || f === 'unsupported') throw new Error(String(f));
    expect([f(ci), f(mi)]).toEqual(expected);
  });

  it.each([
    "endswith(displayName,'pull')",
    "displayName ne 'x'",
    "servicePrincipalNames/any(c:d eq 'x')",
    "appId eq 'a' or appId eq 'b'",
    "startswith(appId,'0c')",
  ])('answers unsupported for %s', (filter) => {
    expect(parseGraphFilter(filter, 'servicePrincipals')).toBe('unsupported');
  });

  it('does not apply servicePrincipalNames to applications, and treats no filter as none', () => {
    expect(parseGraphFilter(`servicePrincipalNames/any(c:c eq '${ci.appId}')`, 'applications')).toBe('unsupported');
    expect(parseGraphFilter(null, 'applications')).toBeUndefined();
  });
});
