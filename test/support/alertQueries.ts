/**
 * Reads the alert rules out of infra/app/alerts.bicep (Bicep cannot be compiled here) and runs
 * the filtering part of each log query over rows built from what the app really wrote, so a test
 * can say "this query finds that output". It understands only the KQL the rules use:
 *
 *   <table>
 *   | where name == "x"                 (or: success == false)
 *   | where message has "x"
 *   | extend line = parse_json(message)
 *   | where tostring(line.k) == "v"
 *   | where tostring(customDimensions["k"]) == "v"          (or: in ("a", "b"))
 *   | summarize … by a = tostring(line.k)                   (log-line fields it groups by must exist)
 *   | project …, a = tostring(line.k)                       (likewise)
 *
 * Anything else in a `where` before the first summarize throws, so a rule written past this subset
 * fails its test instead of passing unchecked.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LogAlertRule {
  readonly name: string;
  readonly query: string;
}

export const ALERTS_BICEP = join('infra', 'app', 'alerts.bicep');

/** Every `{ name: '…' … query: '''…''' }` entry of `logAlerts`. */
export function logAlertRules(bicep = readFileSync(ALERTS_BICEP, 'utf8')): LogAlertRule[] {
  const start = bicep.indexOf('var logAlerts = [');
  if (start < 0) throw new Error(`${ALERTS_BICEP} has no logAlerts list`);
  const text = bicep.slice(start, bicep.indexOf('\n]\n', start));
  return [...text.matchAll(/name: '([a-z-]+)'[\s\S]*?query: '''([\s\S]*?)'''/g)].map((m) => ({ name: m[1]!, query: m[2]!.trim() }));
}

export function ruleNamed(name: string): LogAlertRule {
  const rule = logAlertRules().find((r) => r.name === name);
  if (!rule) throw new Error(`no log alert rule named ${name} in ${ALERTS_BICEP}`);
  return rule;
}

/** A row of Application Insights: columns, `customDimensions` a string map. */
export type Row = Readonly<Record<string, unknown>> & { readonly customDimensions?: Readonly<Record<string, string>> };

/** The table the query reads. */
export function tableOf(query: string): string {
  return query.split('\n')[0]!.trim();
}

/** The rows the query's filters keep; throws on a filter outside the subset above. */
export function filterRows(query: string, rows: readonly Row[]): Row[] {
  let current: Array<Row & { line?: Record<string, unknown> }> = rows.map((r) => ({ ...r }));
  for (const raw of query.split('\n').slice(1)) {
    const step = raw.trim().replace(/^\|\s*/, '');
    if (step.startsWith('summarize') || step.startsWith('project')) {
      for (const field of fieldsUsed(step)) {
        current = current.filter((r) => read(r, field) !== undefined);
      }
      if (step.startsWith('summarize')) break;
      continue;
    }
    if (/^extend line = parse_json\(message\)$/.test(step)) {
      current = current.map((r) => ({ ...r, line: parseJson(r['message']) }));
      continue;
    }
    const where = /^where (.+)$/.exec(step);
    if (!where) throw new Error(`alert query step outside the tested subset: ${step}`);
    const condition = where[1]!;
    let m: RegExpExecArray | null;
    if ((m = /^(\w+) == (true|false)$/.exec(condition))) {
      const [, column, value] = m;
      current = current.filter((r) => r[column!] === (value === 'true'));
    } else if ((m = /^(\w+) == "([^"]*)"$/.exec(condition))) {
      const [, column, value] = m;
      current = current.filter((r) => r[column!] === value);
    } else if ((m = /^message has "([^"]*)"$/.exec(condition))) {
      const needle = m[1]!.toLowerCase();
      current = current.filter((r) =>
        String(r['message'] ?? '')
          .toLowerCase()
          .includes(needle),
      );
    } else if ((m = /^(tostring\([^)]*\)) == "([^"]*)"$/.exec(condition))) {
      const [, field, value] = m;
      current = current.filter((r) => read(r, field!) === value);
    } else if ((m = /^(tostring\([^)]*\)) in \(([^)]*)\)$/.exec(condition))) {
      const [, field, list] = m;
      const values = [...list!.matchAll(/"([^"]*)"/g)].map((v) => v[1]);
      current = current.filter((r) => values.includes(read(r, field!)));
    } else {
      throw new Error(`alert query condition outside the tested subset: ${condition}`);
    }
  }
  return current;
}

/**
 * The log-line fields a summarize `by` or a project reads: they must be on the line. (A metric's
 * optional dimension, such as errorCode, groups as "" in KQL when absent, so it is not required.)
 */
function fieldsUsed(step: string): string[] {
  return [...step.matchAll(/tostring\((line\.\w+)\)/g)].map((m) => `tostring(${m[1]})`);
}

function read(row: Row & { line?: Record<string, unknown> }, field: string): string | undefined {
  let m: RegExpExecArray | null;
  if ((m = /^tostring\(line\.(\w+)\)$/.exec(field))) {
    const v = row.line?.[m[1]!];
    return v === undefined || v === null ? undefined : String(v);
  }
  if ((m = /^tostring\(customDimensions\["(\w+)"\]\)$/.exec(field))) return row.customDimensions?.[m[1]!];
  throw new Error(`alert query field outside the tested subset: ${field}`);
}

function parseJson(value: unknown): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(String(value));
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
