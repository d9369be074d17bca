/**
 * Who is calling the HTTP API: the function key, or with App Service Authentication on the
 * principal the platform injects (and its app roles). Split from http.ts, which checks the roles.
 */
/** The caller recorded when the Functions host checked a function key: it does not tell the worker which key. */
export const FUNCTION_KEY_CALLER = 'function-key';
/** The caller of an anonymous route (the OpenAPI document) with App Service Authentication on and no principal. */
export const ANONYMOUS_CALLER = 'anonymous';

/** Who is calling and, with App Service Authentication, the app roles Entra gave them. */
export interface IdentifiedCaller {
  /** For audit rows, logs and assignment descriptions. */
  readonly caller: string;
  /** The app roles in the principal's claims; absent when a function key was the only credential. */
  readonly roles?: readonly string[];
}

const OBJECT_ID_CLAIMS = ['http://schemas.microsoft.com/identity/claims/objectidentifier', 'oid'];
const APP_ID_CLAIMS = ['appid', 'azp'];
const NAME_CLAIMS = [
  'preferred_username',
  'upn',
  'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn',
  'name',
  'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
];
/** Entra's `roles` claim, as App Service names it after its claim mapping (the payload's `role_typ` says which). */
const ROLE_CLAIMS = ['roles', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role'];

/**
 * Who is calling. Only with App Service Authentication on does the platform set
 * `x-ms-client-principal` (base64 JSON of `{auth_typ, claims: [{typ, val}], name_typ, role_typ}`)
 * and `x-ms-client-principal-id` / `-name`, after stripping any a client sent
 * (https://learn.microsoft.com/azure/app-service/configure-authentication-user-identities#decode-the-client-principal-header):
 * the caller is the object id (or `app:<appId>`), with the name in parentheses, and its roles are
 * the principal's role claims; `undefined` when no principal came with the request. With it off,
 * anyone holding a function key could write those headers, so they are not read at all: the
 * caller is `function-key`.
 */
export function identifyCaller(
  headers: { get(name: string): string | null },
  appServiceAuthEnabled: boolean,
): IdentifiedCaller | undefined {
  if (!appServiceAuthEnabled) return { caller: FUNCTION_KEY_CALLER };
  const principal = decodePrincipal(headers.get('x-ms-client-principal'));
  const claims = principal?.claims ?? [];
  const claim = (types: readonly string[]) => claims.find((c) => types.includes(c.typ))?.val;
  const id =
    clean(headers.get('x-ms-client-principal-id')) ?? clean(claim(OBJECT_ID_CLAIMS)) ?? prefixed('app:', clean(claim(APP_ID_CLAIMS)));
  const name = clean(headers.get('x-ms-client-principal-name')) ?? clean(claim(NAME_CLAIMS));
  const caller = id && name && name !== id ? `${id} (${name})` : (id ?? name);
  if (!caller) return undefined;
  const roleTypes = principal?.roleType ? [principal.roleType, ...ROLE_CLAIMS] : ROLE_CLAIMS;
  const roles = [...new Set(claims.filter((c) => roleTypes.includes(c.typ)).map((c) => c.val))];
  return { caller, roles };
}

function decodePrincipal(header: string | null): { claims: { typ: string; val: string }[]; roleType?: string } | undefined {
  if (!header) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as { claims?: unknown; role_typ?: unknown };
    if (!Array.isArray(parsed.claims)) return undefined;
    const claims = parsed.claims.filter((c): c is { typ: string; val: string } => typeof c?.typ === 'string' && typeof c?.val === 'string');
    return { claims, ...(typeof parsed.role_typ === 'string' && parsed.role_typ ? { roleType: parsed.role_typ } : {}) };
  } catch {
    return undefined;
  }
}

/** Header values end up in audit rows and logs: printable characters only, bounded length. */
function clean(value: string | null | undefined): string | undefined {
  if (!value) return undefined;
  // Control characters would forge log lines.
  // eslint-disable-next-line no-control-regex
  const text = value
    .replace(/[\u0000-\u001f\u007f]/g, '')
    .trim()
    .slice(0, 200);
  return text || undefined;
}

function prefixed(prefix: string, value: string | undefined): string | undefined {
  return value ? `${prefix}${value}` : undefined;
}
