/**
 * Hostile input (issue 16, point 4), generated with fast-check: Event Grid deliveries and HTTP
 * requests that are valid, near-valid (one field wrong) or hostile (huge, deep, wrong types,
 * unicode, ids shaped like injections). fast-check is the generator here, seeded, so a run that
 * finds something replays with the same `--seed`.
 *
 * What is never generated: a request that is valid AND asks for a change on purpose (a manual
 * grant a registry consents to, a rotation or un-enrolment of an enrolled registry). Those are the
 * product working; the goal "0 changes on the emulator" is about input that must be refused. So
 * write routes only ever name things the world does not hold; read routes name the world's too.
 */
import fc from 'fast-check';

/** Names the chaos world holds (the demo's), which read routes and events may name. */
export interface World {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly registries: readonly string[];
  readonly resourceIds: readonly string[];
  readonly vaultName: string;
}

export interface Delivery {
  readonly functionName: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface ApiRequest {
  readonly method: string;
  /** Path and query after the app's address, without the key. */
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
  /** Which key to send: the function key (usual), none, or a wrong one. */
  readonly key: 'function' | 'none' | 'wrong';
  /** The route template it aims at, for coverage. */
  readonly route: string;
}

/** The API's routes and methods (src/api/routes), as the app registers them under /api. */
export const API_ROUTES: ReadonlyArray<{ readonly route: string; readonly methods: readonly string[]; readonly writes: boolean }> = [
  { route: 'access/preview', methods: ['POST'], writes: false },
  { route: 'access/grants', methods: ['POST', 'DELETE'], writes: true },
  { route: 'audit', methods: ['GET'], writes: false },
  { route: 'credentials', methods: ['GET', 'POST'], writes: true },
  { route: 'credentials/{registry}/rotate', methods: ['POST'], writes: true },
  { route: 'credentials/{registry}', methods: ['DELETE'], writes: true },
  { route: 'health', methods: ['GET'], writes: false },
  { route: 'openapi.json', methods: ['GET'], writes: false },
];

/** Strings shaped like attacks on whatever reads them next: paths, OData filters, KQL, markup, logs. */
const INJECTIONS = [
  "' or 1 eq 1",
  "PartitionKey ne ''",
  '../../../../etc/passwd',
  '..%2f..%2fadmin',
  '%00',
  '\u0000',
  '\r\nSet-Cookie: x=1',
  '<script>alert(1)</script>',
  '${process.env}',
  '{{7*7}}',
  "'; drop table audit; --",
  '| where 1==1 | project *',
  '/subscriptions/*/resourceGroups/*',
  '*',
  '\\\\server\\share',
  'ＡＣＲ',
  'a\u202Eb',
  '🦄'.repeat(30),
  'x'.repeat(5_000),
];

const unicode = fc.string({ unit: 'binary', maxLength: 60 });
const shortText = fc.oneof(fc.string({ maxLength: 40 }), unicode, fc.constantFrom(...INJECTIONS));
/** Any JSON value, including wrong types for every field. */
const anyJson = fc.jsonValue({ maxDepth: 4 });

function deep(depth: number): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { d: value };
  return value;
}

/** A value that is big or deep in a way a parser or a logger may choke on. */
const monster = fc.oneof(
  fc.integer({ min: 100, max: 3_000 }).map((depth) => deep(depth)),
  fc.integer({ min: 10_000, max: 400_000 }).map((n) => 'A'.repeat(n)),
  fc.integer({ min: 1_000, max: 20_000 }).map((n) => Array.from({ length: n }, (_, i) => i)),
);

export function eventArbitraries(world: World) {
  const sub = world.subscriptionId;
  const rg = world.resourceGroup;
  const name = fc.oneof(
    fc.constantFrom(...world.registries, 'vm-web-1', 'nosuchvm', 'ghostacr1'),
    fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/),
    shortText,
  );
  const provider = fc.constantFrom(
    'Microsoft.Compute/virtualMachines',
    'Microsoft.ContainerRegistry/registries',
    'Microsoft.ManagedIdentity/userAssignedIdentities',
    'Microsoft.ContainerService/managedClusters',
    'Microsoft.Compute/virtualMachineScaleSets',
    'Microsoft.Web/sites',
    'Microsoft.App/containerApps',
    'Microsoft.KeyVault/vaults',
    'Microsoft.Storage/storageAccounts',
    'Microsoft.Authorization/roleAssignments',
  );
  const resourceId = fc.oneof(
    fc.constantFrom(...world.resourceIds),
    fc.tuple(provider, name).map(([p, n]) => `/subscriptions/${sub}/resourcegroups/${rg}/providers/${p}/${n}`),
    fc.tuple(fc.uuid(), provider, name).map(([s, p, n]) => `/subscriptions/${s}/resourceGroups/other/providers/${p}/${n}`),
    fc.tuple(provider, shortText).map(([p, n]) => `/subscriptions/${sub}/resourceGroups/${n}/providers/${p}/x`),
    shortText,
  );
  const eventType = fc.oneof(
    fc.constantFrom(
      'Microsoft.Resources.ResourceWriteSuccess',
      'Microsoft.Resources.ResourceDeleteSuccess',
      'Microsoft.Resources.ResourceActionSuccess',
      'Microsoft.Resources.ResourceWriteFailure',
    ),
    shortText,
  );
  const operationName = fc.oneof(
    fc.constantFrom(
      'Microsoft.Compute/virtualMachines/write',
      'Microsoft.Resources/tags/write',
      'Microsoft.ContainerRegistry/registries/delete',
      'Microsoft.ManagedIdentity/userAssignedIdentities/write',
    ),
    shortText,
  );

  /** An ARM event in the Event Grid schema, shaped as the ResourceWriteSuccess sample of https://learn.microsoft.com/azure/event-grid/event-schema-resource-groups (its type and operation may be any). */
  const validEvent = fc
    .record({ id: fc.uuid(), resourceId, eventType, operationName, time: fc.date({ noInvalidDate: true }) })
    .map((e) => ({
      id: e.id,
      topic: `/subscriptions/${sub}`,
      subject: e.resourceId,
      eventType: e.eventType,
      eventTime: e.time.toISOString(),
      dataVersion: '2',
      metadataVersion: '1',
      data: {
        authorization: { scope: e.resourceId, action: e.operationName, evidence: { role: 'Contributor' } },
        claims: { 'http://schemas.microsoft.com/identity/claims/objectidentifier': '00000000-0000-0000-0000-0000000c4a05' },
        correlationId: e.id,
        resourceProvider: 'Microsoft.Compute',
        resourceUri: e.resourceId,
        operationName: e.operationName,
        status: 'Succeeded',
        subscriptionId: sub,
        tenantId: '00000000-0000-0000-0000-00000000aaaa',
      },
    }));

  /** The valid event with one field replaced: a wrong type, a hostile string, a huge or deep value, or removed. */
  const nearValidEvent = fc
    .tuple(
      validEvent,
      fc.constantFrom(
        'topic',
        'subject',
        'eventTime',
        'dataVersion',
        'data',
        'data.resourceUri',
        'data.operationName',
        'data.claims',
        'data.authorization',
        'data.subscriptionId',
        'id',
      ),
      fc.oneof(anyJson, shortText, monster, fc.constant(undefined)),
    )
    .map(([event, field, value]) => {
      const copy = structuredClone(event) as Record<string, unknown>;
      const [head, tail] = field.split('.') as [string, string | undefined];
      if (tail) (copy[head] as Record<string, unknown>)[tail] = value;
      else copy[head] = value;
      return copy;
    });

  const keyVaultEvent = fc
    .record({
      id: fc.uuid(),
      secret: fc.oneof(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}-pull-pwd$/), shortText),
      type: fc.constantFrom(
        'Microsoft.KeyVault.SecretNearExpiry',
        'Microsoft.KeyVault.SecretExpired',
        'Microsoft.KeyVault.SecretNewVersionCreated',
      ),
      data: fc.oneof(anyJson, fc.constant(null)),
    })
    .map((e) => ({
      id: e.id,
      topic: `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.KeyVault/vaults/${world.vaultName}`,
      subject: e.secret,
      eventType: e.type,
      eventTime: new Date().toISOString(),
      dataVersion: '1',
      metadataVersion: '1',
      // Key Vault's PascalCase data, or garbage in its place.
      data:
        typeof e.data === 'object' && e.data !== null
          ? e.data
          : {
              Id: `https://${world.vaultName}.vault.azure.net/secrets/${e.secret}/abc`,
              VaultName: world.vaultName,
              ObjectType: 'Secret',
              ObjectName: e.secret,
              Version: 'abc',
              NBF: null,
              EXP: e.data,
            },
    }));

  const eventsBody = fc.array(fc.oneof({ weight: 2, arbitrary: validEvent }, { weight: 3, arbitrary: nearValidEvent }), {
    minLength: 0,
    maxLength: 4,
  });
  /** What arrives at the webhook: mostly Event Grid arrays, sometimes not JSON, not an array, a validation or CloudEvents. */
  const delivery: fc.Arbitrary<Delivery> = fc.oneof(
    {
      weight: 6,
      arbitrary: eventsBody.map((events) => ({
        functionName: 'resourceEvents',
        headers: { 'aeg-event-type': 'Notification', 'content-type': 'application/json' },
        body: JSON.stringify(events),
      })),
    },
    {
      weight: 2,
      arbitrary: fc.array(keyVaultEvent, { minLength: 1, maxLength: 2 }).map((events) => ({
        functionName: 'keyVaultSecretEvents',
        headers: { 'aeg-event-type': 'Notification', 'content-type': 'application/json' },
        body: JSON.stringify(events),
      })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom('resourceEvents', 'keyVaultSecretEvents'),
          fc.oneof(
            shortText,
            anyJson.map((v) => JSON.stringify(v)),
            monster.map((v) => JSON.stringify(v)),
          ),
        )
        .map(([functionName, body]) => ({
          functionName,
          headers: { 'aeg-event-type': 'Notification', 'content-type': 'application/json' },
          body: body ?? '',
        })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom('resourceEvents', 'keyVaultSecretEvents'),
          validEvent,
          fc.constantFrom('SubscriptionValidation', 'SubscriptionDeletion', '', 'Bogus'),
        )
        .map(([functionName, event, type]) => ({
          functionName,
          headers: { 'aeg-event-type': type, 'content-type': 'application/json' },
          body: JSON.stringify([event]),
        })),
    },
    {
      weight: 1,
      arbitrary: validEvent.map((event) => ({
        functionName: 'resourceEvents',
        headers: { 'content-type': 'application/cloudevents+json' },
        body: JSON.stringify({
          specversion: '1.0',
          id: event.id,
          source: event.topic,
          type: event.eventType,
          subject: event.subject,
          time: event.eventTime,
          data: event.data,
        }),
      })),
    },
  );
  return { delivery };
}

export function requestArbitraries(world: World) {
  // Write routes name only what the world does not hold (see the header); read routes may name it.
  const foreignRegistry = fc.oneof(fc.stringMatching(/^ghost[a-z0-9]{0,10}$/), shortText, fc.constantFrom('', ' ', 'a', 'A'.repeat(51)));
  const anyRegistry = fc.oneof(foreignRegistry, fc.constantFrom(...world.registries));
  const foreignId = fc.oneof(
    fc
      .stringMatching(/^[a-z]{1,12}$/)
      .map((n) => `/subscriptions/${world.subscriptionId}/resourceGroups/ghost-rg/providers/Microsoft.Compute/virtualMachines/${n}`),
    fc.uuid().map((u) => `/subscriptions/${u}/resourceGroups/x/providers/Microsoft.Compute/virtualMachines/x`),
    shortText,
  );
  const anyId = fc.oneof(foreignId, fc.constantFrom(...world.resourceIds));
  const valueOr = <T>(arb: fc.Arbitrary<T>) =>
    fc.oneof({ weight: 3, arbitrary: arb as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: anyJson }, { weight: 1, arbitrary: monster });

  const accessBody = (ids: fc.Arbitrary<string>, registries: fc.Arbitrary<string>) =>
    fc.record(
      {
        resourceId: valueOr(ids),
        principalId: valueOr(fc.oneof(fc.uuid(), shortText)),
        registry: valueOr(registries),
        access: valueOr(fc.constantFrom('pull', 'push', 'admin', 'Owner', '')),
        override: valueOr(fc.boolean()),
      },
      { requiredKeys: [] },
    );
  const enrolBody = fc.record(
    {
      registry: valueOr(foreignRegistry),
      vault: valueOr(fc.oneof(fc.constantFrom(world.vaultName), shortText)),
      rotationDays: valueOr(fc.integer()),
    },
    { requiredKeys: [] },
  );
  const bodyText = (arb: fc.Arbitrary<unknown>) =>
    fc.oneof(
      { weight: 5, arbitrary: arb.map((v) => JSON.stringify(v)) },
      { weight: 1, arbitrary: shortText },
      { weight: 1, arbitrary: monster.map((v) => JSON.stringify(v)) },
      { weight: 1, arbitrary: fc.constant('') },
    );
  const query = fc.dictionary(
    fc.oneof(
      fc.constantFrom('top', 'since', 'until', 'resourceId', 'registry', 'principalId', 'continuationToken', 'outcome', '$filter', 'code'),
      shortText,
    ),
    fc.oneof(shortText, fc.integer().map(String), fc.constantFrom(...world.resourceIds), fc.constantFrom(...world.registries)),
    { maxKeys: 4 },
  );
  const key = fc.constantFrom<ApiRequest['key']>('function', 'function', 'function', 'function', 'function', 'function', 'none', 'wrong');
  const headers = fc.record(
    {
      'content-type': fc.constantFrom('application/json', 'text/plain', 'application/xml', 'application/json; charset=utf-16', ''),
      'x-ms-client-principal': fc.oneof(
        shortText.map((s) => Buffer.from(s).toString('base64')),
        fc.constant(''),
      ),
    },
    { requiredKeys: ['content-type'] },
  );
  const enc = (s: string) => encodeURIComponent(s);
  const method = (usual: readonly string[]) =>
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...usual) },
      { weight: 1, arbitrary: fc.constantFrom('GET', 'PUT', 'PATCH', 'DELETE', 'POST', 'HEAD', 'OPTIONS') },
    );

  const request: fc.Arbitrary<ApiRequest> = fc.oneof(
    fc
      .tuple(method(['POST']), bodyText(accessBody(anyId, anyRegistry)), headers, key)
      .map(([m, body, h, k]) => ({ route: 'access/preview', method: m, path: '/api/access/preview', headers: h, body, key: k })),
    fc
      .tuple(method(['POST', 'DELETE']), bodyText(accessBody(foreignId, foreignRegistry)), headers, key)
      .map(([m, body, h, k]) => ({ route: 'access/grants', method: m, path: '/api/access/grants', headers: h, body, key: k })),
    fc
      .tuple(query, headers, key)
      .map(([q, h, k]) => ({ route: 'audit', method: 'GET', path: `/api/audit?${new URLSearchParams(q).toString()}`, headers: h, key: k })),
    fc.tuple(method(['GET', 'POST']), bodyText(enrolBody), headers, key).map(([m, body, h, k]) => ({
      route: 'credentials',
      method: m,
      path: '/api/credentials',
      headers: h,
      ...(m === 'GET' ? {} : { body }),
      key: k,
    })),
    fc.tuple(method(['POST']), foreignRegistry, headers, key, query).map(([m, r, h, k, q]) => ({
      route: 'credentials/{registry}/rotate',
      method: m,
      path: `/api/credentials/${enc(r)}/rotate?${new URLSearchParams(q).toString()}`,
      headers: h,
      key: k,
    })),
    fc
      .tuple(method(['DELETE']), foreignRegistry, headers, key)
      .map(([m, r, h, k]) => ({ route: 'credentials/{registry}', method: m, path: `/api/credentials/${enc(r)}`, headers: h, key: k })),
    fc.tuple(query, headers, key).map(([q, h, k]) => ({
      route: 'health',
      method: 'GET',
      path: `/api/health?${new URLSearchParams(q).toString()}`,
      headers: h,
      key: k,
    })),
    fc.tuple(headers, key).map(([h, k]) => ({ route: 'openapi.json', method: 'GET', path: '/api/openapi.json', headers: h, key: k })),
    // Paths that are no route, or a route's path bent.
    fc
      .tuple(shortText, headers, key)
      .map(([p, h, k]) => ({ route: '(no route)', method: 'GET', path: `/api/${enc(p)}`, headers: h, key: k })),
  );
  return { request };
}

/** `count` values from `arbitrary`, reproducibly from `seed`. */
export function generate<T>(arbitrary: fc.Arbitrary<T>, count: number, seed: number): T[] {
  return fc.sample(arbitrary, { numRuns: count, seed });
}
