/**
 * Issue 18.1: the status page escapes everything it prints. Resource names, tag values and audit
 * reasons come from whoever can write tags, so a hostile value must reach the browser as text.
 */
import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../../../src/audit/auditLog.js';
import { escapeHtml, html } from '../../../../src/api/status/html.js';
import { EMPTY_METRICS } from '../../../../src/metrics/readout.js';
import { renderStatusPage, STATUS_PAGE_CSP } from '../../../../src/api/status/statusPage.js';
import { registryStatuses, type StatusReport } from '../../../../src/api/status/statusReport.js';
import type { Health } from '../../../../src/api/schemas/health.js';
import { roleAssignmentName } from '../../../../src/policy/ownership.js';

const SUB = '00000000-0000-0000-0000-000000000001';
const RG = `/subscriptions/${SUB}/resourceGroups/rg-web`;
const REGISTRY = `${RG}/providers/Microsoft.ContainerRegistry/registries/contosoacr`;
const VM = `${RG}/providers/Microsoft.Compute/virtualMachines/vm-web-1`;
const ACR_PULL = '7f951dda-4ed3-4680-a7ca-43fe172d538d';
/** The automation's own assignments carry its deterministic name; a hand-made one any other. */
const ourName = (principalId: string): string => {
  const name = roleAssignmentName({ scope: REGISTRY, principalId, roleDefinitionId: ACR_PULL });
  if (!name.ok) throw new Error(name.error);
  return name.value;
};
const HAND_MADE_NAME = '0b7e0000-0000-4000-8000-000000000001';
const HOSTILE = `<script>alert(1)</script><img src=x onerror="alert(2)">'"&`;

const health: Health = {
  status: 'degraded',
  time: '2026-12-06T10:00:00.000Z',
  settings: { valid: true, problems: [] },
  dependencies: [{ name: 'tableStorage', reachable: true, latencyMs: 3 }],
  roleAssignments: [{ subscriptionId: SUB, total: 3600, owned: 12, limit: 4000, headroom: 400 }],
  credentials: { status: 'healthy', items: [] },
  sweep: { status: 'healthy', problem: 'no sweep has finished yet' },
  deadLetters: {
    status: 'degraded',
    configured: true,
    blobs: 3,
    recent: 2,
    bySubscription: { 'ACR-PULL-RESOURCE-EVENTS': 3 },
    newest: '2026-12-06T08:00:00.000Z',
    problem: 'Event Grid dead-lettered 2 blob(s)',
  },
};

function aReport(overrides: Partial<StatusReport> = {}): StatusReport {
  return {
    generatedAt: '2026-12-06T10:00:00.000Z',
    health,
    registries: [],
    enrolments: [],
    problems: [],
    metrics: EMPTY_METRICS,
    auditWindowDays: 7,
    unavailable: [],
    ...overrides,
  };
}

const aDenial = (reason: string): AuditRecord => ({
  id: '1',
  time: '2026-12-06T09:00:00.000Z',
  action: 'grant',
  outcome: 'denied-by-consent',
  reason,
  resourceId: VM,
  registry: REGISTRY,
});

describe('html', () => {
  it.each([
    ['<b>', '&lt;b&gt;'],
    ['"quoted"', '&quot;quoted&quot;'],
    ["it's", 'it&#39;s'],
    ['a & b', 'a &amp; b'],
    ['`x`', '&#96;x&#96;'],
  ])('escapes %s', (input, expected) => {
    expect(escapeHtml(input)).toBe(expected);
    expect(html`<td title="${input}">${input}</td>`.value).toBe(`<td title="${expected}">${expected}</td>`);
  });
});

describe('the status page', () => {
  it('prints a hostile tag value, resource name and reason as text, never as markup', () => {
    const registries = registryStatuses(
      [
        {
          name: ourName('11111111-1111-1111-1111-111111111111'),
          scope: REGISTRY,
          principalId: '11111111-1111-1111-1111-111111111111',
          principalType: 'ServicePrincipal',
          roleDefinitionGuid: ACR_PULL,
          description: `Managed by acr-pull-automation: acr-pull on ${VM}`,
        },
        {
          name: HAND_MADE_NAME,
          scope: REGISTRY,
          principalId: '22222222-2222-2222-2222-222222222222',
          roleDefinitionGuid: ACR_PULL,
          description: HOSTILE,
        },
      ],
      [],
      [aDenial(`vm asks for acr-pull=${HOSTILE}`)],
    );
    const page = renderStatusPage(aReport({ registries, problems: [aDenial(`tag:team=${HOSTILE}`)], unavailable: [HOSTILE] }));
    expect(page).not.toContain('<script>alert');
    expect(page).not.toContain('<img src=x');
    expect(page).not.toMatch(/onerror="/);
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&quot;alert(2)&quot;&gt;&#39;&quot;&amp;');
    // The only elements are the page's own: no script at all.
    expect(page).not.toMatch(/<script/i);
  });

  it('shows who has access and why: ours with the consumer, hand-made as left alone, denied with the reason', () => {
    const registries = registryStatuses(
      [
        {
          name: ourName('11111111-1111-1111-1111-111111111111'),
          scope: REGISTRY,
          principalId: '11111111-1111-1111-1111-111111111111',
          roleDefinitionGuid: ACR_PULL,
          description: `Managed by acr-pull-automation: acr-pull on ${VM}`,
        },
        { name: HAND_MADE_NAME, scope: REGISTRY, principalId: '22222222-2222-2222-2222-222222222222', roleDefinitionGuid: ACR_PULL },
      ],
      [],
      [aDenial('registry contosoacr allows same-resource-group; vm-api is in rg-api')],
    );
    expect(registries).toHaveLength(1);
    expect(registries[0]!.access.map((a) => [a.kind, a.consumer, a.role])).toEqual([
      ['hand-made', undefined, 'AcrPull'],
      ['ours', VM, 'AcrPull'],
    ]);
    const page = renderStatusPage(aReport({ registries }));
    expect(page).toContain('>vm-web-1</span>');
    expect(page).toContain('assigned outside the automation (left alone)');
    expect(page).toContain('registry contosoacr allows same-resource-group; vm-api is in rg-api');
    expect(page).toContain('<meter min="0" max="4000"');
    // Dead letters, by Event Grid subscription.
    expect(page).toMatch(
      /Dead-lettered events<\/th><td><span class="badge degraded">degraded<\/span><\/td><td>3 blobs \(2 in the last 7 days\), newest <time[^>]*>2026-12-06 08:00 UTC<\/time>: ACR-PULL-RESOURCE-EVENTS 3/,
    );
  });

  it('pins its only style sheet by hash and allows nothing else', () => {
    expect(STATUS_PAGE_CSP).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(STATUS_PAGE_CSP).not.toContain('unsafe-inline');
  });
});
