/**
 * HTTP route templates as the Functions host reads them (ASP.NET-style): literal segments match
 * case-insensitively, `{name}` one segment, `{name?}` an optional last segment, `{*rest}` the
 * rest of the path; `{id:int}` style constraints are honoured for int, guid, alpha and bool.
 */
export interface CompiledRoute {
  readonly template: string;
  /** Sorting key: routes with fewer parameters win, like ASP.NET's route precedence. */
  readonly precedence: number;
  match(path: string): Record<string, string> | undefined;
}

const CONSTRAINTS: Record<string, string> = {
  int: '-?\\d+',
  long: '-?\\d+',
  guid: '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}',
  alpha: '[A-Za-z]+',
  bool: '(?:true|false|True|False)',
};

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Compiles a route template (without the `api/` prefix) into a matcher. */
export function compileRoute(template: string): CompiledRoute {
  const names: string[] = [];
  let pattern = '';
  let params = 0;
  let catchAll = 0;
  const segments = template
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .filter((s) => s.length > 0);
  for (const segment of segments) {
    const whole = /^\{(\*)?([A-Za-z_][\w]*)(?::([A-Za-z]+)(?:\([^)]*\))?)?(\?)?\}$/.exec(segment);
    if (whole) {
      const [, star, name, constraint, optional] = whole;
      names.push(name!);
      params += 1;
      const group = `(?<p${names.length - 1}>${star ? '.*' : (constraint && CONSTRAINTS[constraint.toLowerCase()]) || '[^/]+'})`;
      if (star) {
        catchAll += 1;
        pattern += `(?:/${group})?`;
      } else if (optional) {
        pattern += `(?:/${group})?`;
      } else {
        pattern += `/${group}`;
      }
      continue;
    }
    // A segment mixing literals and parameters, e.g. `file.{ext}`.
    let part = '';
    let rest = segment;
    for (let m = /\{([A-Za-z_][\w]*)(?::[A-Za-z]+)?\}/.exec(rest); m; m = /\{([A-Za-z_][\w]*)(?::[A-Za-z]+)?\}/.exec(rest)) {
      part += escapeRegex(rest.slice(0, m.index));
      names.push(m[1]!);
      params += 1;
      part += `(?<p${names.length - 1}>[^/]+?)`;
      rest = rest.slice(m.index + m[0].length);
    }
    pattern += `/${part}${escapeRegex(rest)}`;
  }
  const regex = new RegExp(`^${pattern}/?$`, 'i');
  return {
    template,
    precedence: catchAll * 1000 + params,
    match(path) {
      const found = regex.exec(path.replace(/\/+$/, '') || '');
      if (!found) return undefined;
      const values: Record<string, string> = {};
      names.forEach((name, i) => {
        const value = found.groups?.[`p${i}`];
        if (value !== undefined) values[name] = safeDecode(value);
      });
      return values;
    },
  };
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
