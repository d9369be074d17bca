/**
 * The status page: one read-only HTML document a platform engineer opens in a browser. No script,
 * no framework, one inline style sheet (pinned by hash in the Content-Security-Policy), every value
 * escaped (`html`), status always in words as well as colour, sections reachable from the top by
 * keyboard. Everything it prints comes from `StatusReport`, which holds no secret.
 */
import { createHash } from 'node:crypto';
import type { AuditRecord } from '../../audit/auditLog.js';
import type { EnrolmentView } from '../../credentials/enrolment.js';
import type { Health, HealthStatus } from '../schemas/health.js';
import { html, raw, type Html } from './html.js';
import { nameOfId, type RegistryStatus, type StatusReport } from './statusReport.js';

const STYLE = `
:root{color-scheme:light;--ok:#0b6b2f;--warn:#8a5300;--bad:#a4161a;--muted:#555;--line:#d9d9d9;--bg:#f6f7f9}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:#1b1b1b;background:var(--bg)}
a{color:#0a4ea3}
a:focus-visible,summary:focus-visible{outline:3px solid #0a4ea3;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:6px 10px;z-index:1}
header{background:#fff;border-bottom:1px solid var(--line);padding:14px 24px}
header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:var(--muted)}
nav ul{display:flex;flex-wrap:wrap;gap:6px 16px;list-style:none;margin:10px 0 0;padding:0}
main{padding:8px 24px 32px;max-width:1200px}
section{background:#fff;border:1px solid var(--line);border-radius:6px;padding:12px 16px;margin:14px 0}
h2{font-size:17px;margin:0 0 8px}h3{font-size:15px;margin:14px 0 6px}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid var(--line);border-radius:6px;padding:8px 12px;min-width:150px;background:#fff}
.card b{display:block;font-size:22px}
table{border-collapse:collapse;width:100%;margin:4px 0 8px}
caption{text-align:left;color:var(--muted);padding:2px 0 4px}
th,td{text-align:left;vertical-align:top;padding:5px 8px;border-bottom:1px solid var(--line)}
th{background:#f0f2f5;font-weight:600}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-weight:600;font-size:13px;border:1px solid currentColor}
.healthy,.ours,.rotated,.granted,.succeeded{color:var(--ok)}
.revoked{color:#3b3b8f}
.degraded,.hand-made,.partial{color:var(--warn)}
.unhealthy,.failed,.denied,.denied-by-consent,.denied-by-platform-policy,.denied-ineligible,.denied-by-app-role,.rejected-input{color:var(--bad)}
.muted{color:var(--muted)}
meter{width:160px}
`;

/** The Content-Security-Policy the page is served with: nothing but its own style sheet. */
export const STATUS_PAGE_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

/** Renders the whole document. */
export function renderStatusPage(report: StatusReport): string {
  const { health } = report;
  const sections: [id: string, title: string, body: Html][] = [
    ['registries', 'Registries', registriesSection(report)],
    ['credentials', 'Pull credentials', credentialsSection(report.enrolments, health)],
    ['problems', 'Recent failures and denials', problemsSection(report.problems, report.auditWindowDays)],
    ['headroom', 'Role-assignment headroom', headroomSection(health)],
    ['checks', 'Health checks', checksSection(health)],
    ['metrics', 'Metrics (this instance)', metricsSection(report)],
  ];
  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>acr-pull-automation status: ${health.status}</title>
<style>${raw(STYLE)}</style>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
<h1>acr-pull-automation status ${badge(health.status)}</h1>
<p>As of <time datetime="${report.generatedAt}">${formatTime(report.generatedAt)}</time>. Read-only; reload for fresh figures. The same checks as JSON: <code>GET /api/health</code>.</p>
<nav aria-label="Sections"><ul>${sections.map(([id, title]) => html`<li><a href="#${id}">${title}</a></li>`)}</ul></nav>
</header>
<main id="main">
${summary(report)}
${report.unavailable.length > 0 ? html`<section aria-labelledby="unavailable"><h2 id="unavailable" class="degraded">Not shown: could not be read</h2><ul>${report.unavailable.map((u) => html`<li>${u}</li>`)}</ul></section>` : ''}
${sections.map(([id, title, body]) => html`<section aria-labelledby="${id}"><h2 id="${id}">${title}</h2>${body}</section>`)}
</main>
</body>
</html>
`;
  return page.value;
}

function summary(report: StatusReport): Html {
  const { health } = report;
  const headroom = health.roleAssignments.map((s) => s.headroom).filter((h): h is number => h !== undefined);
  const credentialProblems = health.credentials.items.filter((c) => c.status !== 'healthy').length;
  const cards: [string, string | number, HealthStatus | 'muted'][] = [
    ['Registries', report.registries.length, 'healthy'],
    ['Pull credentials', health.credentials.items.length, health.credentials.status],
    ['Credentials needing attention', credentialProblems, credentialProblems > 0 ? health.credentials.status : 'healthy'],
    [
      `Failures and denials (${report.auditWindowDays} days)`,
      report.problems.length,
      report.problems.some((p) => p.outcome === 'failed') ? 'degraded' : 'healthy',
    ],
    [
      'Smallest headroom',
      headroom.length > 0 ? Math.min(...headroom) : '—',
      health.roleAssignments.some((s) => s.errorCode) ? 'degraded' : 'healthy',
    ],
    ['Last sweep', health.sweep.lastFinishedAt ? `${health.sweep.outcome ?? ''}` : 'none yet', health.sweep.status],
    [
      'Dead-lettered (7 days)',
      health.deadLetters.configured ? (health.deadLetters.recent ?? '?') : 'not read',
      health.deadLetters.configured ? health.deadLetters.status : 'muted',
    ],
  ];
  return html`<section aria-label="Summary"><div class="cards">${cards.map(
    ([label, value, status]) => html`<div class="card"><span class="muted">${label}</span><b class="${status}">${value}</b></div>`,
  )}</div></section>`;
}

function registriesSection(report: StatusReport): Html {
  if (report.registries.length === 0)
    return html`<p class="muted">No registry has a registry role assigned, an enrolment or a recent denial in the watched subscriptions.</p>`;
  return html`${report.registries.map((r) => registryBlock(r))}`;
}

function registryBlock(r: RegistryStatus): Html {
  const id = `registry-${r.name.toLowerCase().replace(/[^a-z0-9]/g, '')}`;
  return html`<h3 id="${id}">${r.name} <span class="muted">(${r.resourceGroup}, subscription ${r.subscriptionId})</span></h3>
${
  r.access.length > 0
    ? html`<table><caption>Who has access, and why</caption><thead><tr><th scope="col">Consumer</th><th scope="col">Principal</th><th scope="col">Role</th><th scope="col">Made by</th><th scope="col">Why</th></tr></thead><tbody>${r.access.map(
        (a) =>
          html`<tr><td>${a.consumer ? html`<span title="${a.consumer}">${nameOfId(a.consumer)}</span>` : html`<span class="muted">—</span>`}</td><td><code>${a.principalId}</code>${a.principalType ? html` <span class="muted">${a.principalType}</span>` : ''}</td><td>${a.role}</td><td><span class="badge ${a.kind}">${a.kind === 'ours' ? 'automation' : 'hand-made'}</span></td><td>${a.why}</td></tr>`,
      )}</tbody></table>`
    : html`<p class="muted">No registry role is assigned on ${r.name}.</p>`
}
${
  r.denied.length > 0
    ? html`<table><caption>Denied (latest per consumer)</caption><thead><tr><th scope="col">When</th><th scope="col">Consumer</th><th scope="col">Outcome</th><th scope="col">Reason</th></tr></thead><tbody>${r.denied.map(
        (d) =>
          html`<tr><td>${timeCell(d.time)}</td><td>${d.resourceId ? html`<span title="${d.resourceId}">${nameOfId(d.resourceId)}</span>` : html`<code>${d.principalId ?? '—'}</code>`}</td><td><span class="badge ${d.outcome}">${d.outcome}</span></td><td>${d.reason}</td></tr>`,
      )}</tbody></table>`
    : ''
}
${
  r.changes.length > 0
    ? html`<table><caption>Recent grants and revocations (latest ${r.changes.length})</caption><thead><tr><th scope="col">When</th><th scope="col">Consumer</th><th scope="col">Outcome</th><th scope="col">Reason</th></tr></thead><tbody>${r.changes.map(
        (d) =>
          html`<tr><td>${timeCell(d.time)}</td><td>${d.resourceId ? html`<span title="${d.resourceId}">${nameOfId(d.resourceId)}</span>` : html`<code>${d.principalId ?? '—'}</code>`}</td><td><span class="badge ${d.outcome}">${d.outcome}</span></td><td>${d.reason}</td></tr>`,
      )}</tbody></table>`
    : ''
}
${r.credential ? html`<p>Pull credentials: <code>${r.credential.usernameSecret}</code> / <code>${r.credential.passwordSecret}</code> in vault <b>${r.credential.vaultName}</b>, expire ${dateOf(r.credential.currentExpiresOn)} (<a href="#credentials">details</a>).</p>` : ''}`;
}

function credentialsSection(enrolments: readonly EnrolmentView[], health: Health): Html {
  if (enrolments.length === 0) return html`<p class="muted">No registry is enrolled for pull credentials.</p>`;
  const status = new Map(health.credentials.items.map((c) => [c.registryId.toLowerCase(), c]));
  return html`<table><caption>Passwords Key Vault serves: never their values</caption><thead><tr><th scope="col">Registry</th><th scope="col">Vault and secrets</th><th scope="col">State</th><th scope="col">Expires</th><th scope="col">Last proof</th><th scope="col">Next rotation</th><th scope="col">Status</th></tr></thead><tbody>${enrolments.map(
    (e) => {
      const c = status.get(e.registryId.toLowerCase());
      return html`<tr><td>${e.registryName}</td><td><b>${e.vaultName}</b>: <code>${e.usernameSecret}</code> / <code>${e.passwordSecret}</code></td><td>${e.status}${e.phase !== 'idle' ? html` <span class="muted">(${e.phase})</span>` : ''}</td><td>${timeCell(e.currentExpiresOn)}</td><td>${timeCell(e.lastRotatedAt)}</td><td>${timeCell(e.nextRotationAt)}</td><td>${c ? html`${badge(c.status)}${c.problem ? html` ${c.problem}` : ''}` : html`<span class="muted">—</span>`}</td></tr>`;
    },
  )}</tbody></table>
<p class="muted">Last proof: when the current password was read back from Key Vault, signed in with, and switched to.</p>`;
}

function problemsSection(problems: readonly AuditRecord[], days: number): Html {
  if (problems.length === 0) return html`<p class="healthy">No failure, denial or rejected input in the last ${days} days.</p>`;
  return html`<table><caption>Newest first, from the audit trail (<code>GET /api/audit</code> has every row)</caption><thead><tr><th scope="col">When</th><th scope="col">Outcome</th><th scope="col">Action</th><th scope="col">Resource</th><th scope="col">Registry</th><th scope="col">Reason</th></tr></thead><tbody>${problems.map(
    (p) =>
      html`<tr><td>${timeCell(p.time)}</td><td><span class="badge ${p.outcome}">${p.outcome}</span>${p.errorCode ? html`<br><code>${p.errorCode}</code>` : ''}</td><td>${p.action}</td><td>${p.resourceId ? html`<span title="${p.resourceId}">${nameOfId(p.resourceId)}</span>` : '—'}</td><td>${p.registry ? nameOfId(p.registry) : '—'}</td><td>${p.reason}</td></tr>`,
  )}</tbody></table>`;
}

function headroomSection(health: Health): Html {
  if (health.roleAssignments.length === 0) return html`<p class="muted">No watched subscription.</p>`;
  return html`<table><caption>Azure allows 4,000 role assignments per subscription</caption><thead><tr><th scope="col">Subscription</th><th scope="col">Assignments</th><th scope="col">Made by the automation</th><th scope="col">Headroom</th><th scope="col">Used</th></tr></thead><tbody>${health.roleAssignments.map(
    (s) =>
      html`<tr><td><code>${s.subscriptionId}</code></td>${
        s.total === undefined
          ? html`<td colspan="4" class="degraded">could not be counted: ${s.errorCode ?? ''} ${s.message ?? ''}</td>`
          : html`<td>${s.total}</td><td>${s.owned ?? '—'}</td><td>${s.headroom ?? '—'}</td><td><meter min="0" max="${s.limit}" low="${s.limit * 0.75}" high="${s.limit * 0.9}" optimum="0" value="${s.total}">${s.total} of ${s.limit}</meter></td>`
      }</tr>`,
  )}</tbody></table>`;
}

function checksSection(health: Health): Html {
  const sweep = health.sweep;
  return html`<table><caption>What <code>GET /api/health</code> reports</caption><thead><tr><th scope="col">Check</th><th scope="col">Status</th><th scope="col">Detail</th></tr></thead><tbody>
<tr><th scope="row">Settings</th><td>${badge(health.settings.valid ? 'healthy' : 'unhealthy')}</td><td>${health.settings.valid ? 'valid' : html`<ul>${health.settings.problems.map((p) => html`<li>${p}</li>`)}</ul>`}</td></tr>
${health.dependencies.map(
  (d) =>
    html`<tr><th scope="row">${DEPENDENCY_NAMES[d.name] ?? d.name}</th><td>${badge(d.reachable ? 'healthy' : 'unhealthy')}</td><td>${d.reachable ? `reachable, ${d.latencyMs ?? '?'} ms` : `${d.errorCode ?? ''}: ${d.message ?? ''}`}</td></tr>`,
)}
<tr><th scope="row">Last reconciliation sweep</th><td>${badge(sweep.status)}</td><td>${sweep.lastFinishedAt ? html`${timeCell(sweep.lastFinishedAt)}: ${sweep.outcome}, ${sweep.resources ?? 0} resources, ${sweep.failedResources ?? 0} failed. ` : ''}${sweep.problem ?? ''}</td></tr>
<tr><th scope="row">Pull credentials</th><td>${badge(health.credentials.status)}</td><td>${health.credentials.errorCode ? `${health.credentials.errorCode}: ${health.credentials.message ?? ''}` : `${health.credentials.items.length} active`}</td></tr>
<tr><th scope="row">Dead-lettered events</th><td>${health.deadLetters.configured ? badge(health.deadLetters.status) : html`<span class="muted">not read</span>`}</td><td>${deadLetterDetail(health)}</td></tr>
</tbody></table>`;
}

function deadLetterDetail(health: Health): Html {
  const d = health.deadLetters;
  if (!d.configured)
    return html`<span class="muted">${d.problem ?? 'not configured'}; in Azure they are counted in the <code>eventgrid-deadletter</code> container of the app's storage account.</span>`;
  if (d.blobs === undefined) return html`${d.errorCode ?? ''} ${d.problem ?? ''}`;
  if (d.blobs === 0) return html`none in the <code>eventgrid-deadletter</code> container`;
  const by = Object.entries(d.bySubscription ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return html`${d.blobs} blobs (${d.recent ?? 0} in the last 7 days), newest ${timeCell(d.newest)}: ${by.map(([name, n], i) => html`${i > 0 ? ', ' : ''}${name} ${n}`)}. Each blob holds the events and why Event Grid gave up; the sweep settles what they asked for.`;
}

const DEPENDENCY_NAMES: Readonly<Record<string, string>> = {
  tableStorage: 'Table Storage',
  arm: 'Azure Resource Manager',
  graph: 'Microsoft Graph',
};

function metricsSection(report: StatusReport): Html {
  const { decisions, rotations, eventToDecision } = report.metrics;
  const list = (counts: Readonly<Record<string, number>>) => {
    const entries = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b));
    return entries.length === 0
      ? html`<span class="muted">none yet</span>`
      : html`${entries.map(([k, v], i) => html`${i > 0 ? ', ' : ''}<span class="${k}">${k}</span> ${v}`)}`;
  };
  return html`<table><caption>OpenTelemetry counters since this instance started (in Azure also in Application Insights, <code>customMetrics</code>)</caption><tbody>
<tr><th scope="row">Decisions by outcome</th><td>${list(decisions)}</td></tr>
<tr><th scope="row">Rotations</th><td>${list(rotations)}</td></tr>
<tr><th scope="row">Event to decision</th><td>${eventToDecision.count === 0 ? html`<span class="muted">no event yet</span>` : `${eventToDecision.count} events, mean ${eventToDecision.meanMs} ms, slowest ${eventToDecision.maxMs} ms`}</td></tr>
</tbody></table>`;
}

function badge(status: HealthStatus): Html {
  return html`<span class="badge ${status}">${status}</span>`;
}

function timeCell(iso: string | undefined): Html {
  if (!iso) return html`<span class="muted">—</span>`;
  return html`<time datetime="${iso}">${formatTime(iso)}</time>`;
}

function formatTime(iso: string): string {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? new Date(t).toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : iso;
}

function dateOf(iso: string | undefined): string {
  return iso ? iso.slice(0, 10) : 'not yet';
}
