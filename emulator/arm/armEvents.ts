/**
 * ARM's Event Grid events for subscriptions as a source, in the documented schema:
 * https://learn.microsoft.com/azure/event-grid/event-schema-subscriptions (ResourceWriteSuccess
 * and ResourceDeleteSuccess samples). The write sample carries no `httpRequest`; the delete
 * sample does. `subject`/`resourceUri`/`authorization.scope` use `resourcegroups`, `topic` is
 * `/subscriptions/{id}`, `data.claims` is a flat map of strings with URI-style keys.
 */
import { randomUUID } from 'node:crypto';
import type { EmuRequest, GridEvent, TokenClaims } from '../core/contract.js';
import { parseResourceId, toEventResourceId } from './ids.js';

export interface Evidence {
  readonly role: string;
  readonly roleAssignmentScope: string;
  readonly roleAssignmentId: string;
  readonly roleDefinitionId: string;
  readonly principalId: string;
  readonly principalType: string;
}

export interface ArmEventInput {
  readonly kind: 'write' | 'delete';
  readonly resourceId: string;
  /** `Microsoft.Compute/virtualMachines/write`, `Microsoft.Resources/tags/write`, … */
  readonly operationName: string;
  readonly claims: TokenClaims;
  readonly tenantId: string;
  readonly correlationId: string;
  readonly evidence?: Evidence;
  readonly request?: EmuRequest;
  readonly now: Date;
}

/** The token's claims as ARM puts them in events: a flat map of strings. */
export function toEventClaims(c: TokenClaims): Record<string, string> {
  const claims: Record<string, string> = {
    aud: c.aud,
    iss: `https://sts.windows.net/${c.tid}/`,
    iat: String(c.iat),
    nbf: String(c.iat),
    exp: String(c.exp),
    'http://schemas.microsoft.com/identity/claims/objectidentifier': c.oid,
    'http://schemas.microsoft.com/identity/claims/tenantid': c.tid,
    'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier': c.oid,
    uti: randomUUID().replace(/-/g, '').slice(0, 22),
    ver: '1.0',
  };
  if (c.appid) {
    claims.appid = c.appid;
    claims.appidacr = '1';
    claims.idtyp = 'app';
  }
  return claims;
}

export function toArmEvent(input: ArmEventInput): GridEvent {
  const parsed = parseResourceId(input.resourceId);
  const subscriptionId = parsed?.subscriptionId ?? '';
  const subject = toEventResourceId(input.resourceId);
  const resourceProvider = input.operationName.split('/')[0] ?? '';
  const data: Record<string, unknown> = {
    authorization: { scope: subject, action: input.operationName, evidence: input.evidence ?? { role: 'Subscription Admin' } },
    claims: toEventClaims(input.claims),
    correlationId: input.correlationId,
    resourceProvider,
    resourceUri: subject,
    operationName: input.operationName,
    status: 'Succeeded',
    subscriptionId,
    tenantId: input.tenantId,
  };
  if (input.kind === 'delete' && input.request) {
    data.httpRequest = {
      clientRequestId: String(input.request.headers['x-ms-client-request-id'] ?? randomUUID()),
      clientIpAddress: '127.0.0.1',
      method: input.request.method,
      url: input.request.url.toString(),
    };
  }
  return {
    id: randomUUID(),
    topic: `/subscriptions/${subscriptionId}`,
    subject,
    eventType: input.kind === 'write' ? 'Microsoft.Resources.ResourceWriteSuccess' : 'Microsoft.Resources.ResourceDeleteSuccess',
    eventTime: input.now.toISOString(),
    data,
    dataVersion: '2',
    metadataVersion: '1',
  };
}
