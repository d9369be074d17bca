/** Subscriptions and resource groups: read a subscription; put, patch, get, list and delete resource groups. */
import type { EmuRequest, EmuResponse } from '../core/contract.js';
import { armError, armErrors } from './errors.js';
import { keyOf } from './ids.js';
import type { ResourceKit } from './resourceKit.js';
import { isObject, paged, type Caller } from './state.js';

export function resourceGroupHandlers(
  { ctx, state, check, publish, subscriptionExists }: ResourceKit,
  deleteResourceGroup: (caller: Caller, id: string, req?: EmuRequest) => boolean,
) {
  const getSubscription = (req: EmuRequest, caller: Caller): EmuResponse => {
    const id = req.params.subscriptionId ?? '';
    const sub = state.subscriptions.get(id.toLowerCase());
    if (!sub) return armErrors.subscriptionNotFound(id);
    const denied = check(caller, 'Microsoft.Resources/subscriptions/read', `/subscriptions/${id}`);
    if (denied) return denied;
    return {
      status: 200,
      body: {
        id: `/subscriptions/${sub.subscriptionId}`,
        subscriptionId: sub.subscriptionId,
        tenantId: ctx.tenantId,
        displayName: sub.displayName,
        state: 'Enabled',
        subscriptionPolicies: { locationPlacementId: 'Public_2014-09-01', quotaId: 'PayAsYouGo_2014-09-01', spendingLimit: 'Off' },
        authorizationSource: 'RoleBased',
      },
    };
  };

  const putResourceGroup = (req: EmuRequest, caller: Caller, patch: boolean): EmuResponse => {
    const sub = req.params.subscriptionId ?? '';
    if (!subscriptionExists(sub)) return armErrors.subscriptionNotFound(sub);
    const id = req.url.pathname.replace(/\/$/, '');
    const action = 'Microsoft.Resources/subscriptions/resourceGroups/write';
    const denied = check(caller, action, id);
    if (denied) return denied;
    const input = isObject(req.body) ? req.body : {};
    const existing = state.resourceGroups.get(keyOf(id));
    if (patch && !existing) return armErrors.resourceGroupNotFound(req.params.resourceGroup ?? '');
    if (!patch && typeof input.location !== 'string')
      return armError(400, 'LocationRequired', 'The location property is required for this definition.');
    const body = {
      ...(existing?.body ?? {}),
      id: existing?.id ?? id,
      name: existing?.body.name ?? req.params.resourceGroup,
      type: 'Microsoft.Resources/resourceGroups',
      location: existing?.body.location ?? input.location,
      tags: 'tags' in input ? (input.tags ?? {}) : (existing?.body.tags ?? {}),
      properties: { provisioningState: 'Succeeded' },
    };
    if ('managedBy' in input) (body as Record<string, unknown>).managedBy = input.managedBy;
    state.resourceGroups.set(keyOf(id), { id: body.id as string, body, hidden: {} });
    publish('write', caller, id, action);
    return { status: existing ? 200 : 201, body };
  };

  const getResourceGroup = (req: EmuRequest, caller: Caller): EmuResponse => {
    const sub = req.params.subscriptionId ?? '';
    if (!subscriptionExists(sub)) return armErrors.subscriptionNotFound(sub);
    const denied = check(caller, 'Microsoft.Resources/subscriptions/resourceGroups/read', req.url.pathname);
    if (denied) return denied;
    const rg = state.resourceGroups.get(keyOf(req.url.pathname));
    return rg ? { status: 200, body: rg.body } : armErrors.resourceGroupNotFound(req.params.resourceGroup ?? '');
  };

  const listResourceGroups = (req: EmuRequest, caller: Caller): EmuResponse => {
    const sub = req.params.subscriptionId ?? '';
    if (!subscriptionExists(sub)) return armErrors.subscriptionNotFound(sub);
    const denied = check(caller, 'Microsoft.Resources/subscriptions/resourceGroups/read', `/subscriptions/${sub}`);
    if (denied) return denied;
    const items = [...state.resourceGroups.values()].filter((r) => keyOf(r.id).startsWith(`/subscriptions/${sub.toLowerCase()}/`));
    return {
      status: 200,
      body: paged(
        req,
        items.map((r) => r.body),
        state.options.pageSize,
      ),
    };
  };

  const removeResourceGroup = (req: EmuRequest, caller: Caller): EmuResponse => {
    const denied = check(caller, 'Microsoft.Resources/subscriptions/resourceGroups/delete', req.url.pathname);
    if (denied) return denied;
    return deleteResourceGroup(caller, req.url.pathname.replace(/\/$/, ''), req) ? { status: 200 } : { status: 204 };
  };

  return { getSubscription, putResourceGroup, getResourceGroup, listResourceGroups, removeResourceGroup };
}
