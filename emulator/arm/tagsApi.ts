/**
 * The tags API, `{scope}/providers/Microsoft.Resources/tags/default`: GET, PUT, PATCH (Merge,
 * Replace, Delete) and DELETE on any resource or resource group, with ARM's tags/write event.
 */
import type { EmuRequest, EmuResponse } from '../core/contract.js';
import { armError } from './errors.js';
import type { ResourceKit } from './resourceKit.js';
import { isObject, type Caller, type StoredResource } from './state.js';

export function tagsHandler({ state, check, publish }: ResourceKit) {
  // resources/.../examples/PutTagsResource.json, PatchTagsResource.json, GetTagsResource.json

  const tagsJson = (scope: string, tags: unknown) => ({
    id: `${scope}/providers/Microsoft.Resources/tags/default`,
    name: 'default',
    type: 'Microsoft.Resources/tags',
    properties: { tags: isObject(tags) ? tags : {} },
  });

  const tagTarget = (scope: string): StoredResource | undefined => state.getAny(scope);

  const tags = (req: EmuRequest, caller: Caller): EmuResponse => {
    const scope = (req.params.scope ?? '').replace(/\/$/, '');
    const target = tagTarget(scope);
    if (!target) return armError(404, 'ResourceNotFound', `The Resource '${scope}' was not found.`);
    const action =
      req.method === 'GET'
        ? 'Microsoft.Resources/tags/read'
        : req.method === 'DELETE'
          ? 'Microsoft.Resources/tags/delete'
          : 'Microsoft.Resources/tags/write';
    const denied = check(caller, action, scope);
    if (denied) return denied;
    const current = isObject(target.body.tags) ? { ...target.body.tags } : {};
    if (req.method === 'GET') return { status: 200, body: tagsJson(target.id, current) };
    let next: Record<string, unknown>;
    if (req.method === 'DELETE') next = {};
    else {
      const input = isObject(req.body) ? req.body : {};
      const given = isObject(input.properties) && isObject(input.properties.tags) ? input.properties.tags : {};
      if (req.method === 'PUT') next = { ...given };
      else {
        const op = String(input.operation ?? '').toLowerCase();
        if (op === 'merge') next = { ...current, ...given };
        else if (op === 'replace') next = { ...given };
        else if (op === 'delete') {
          next = { ...current };
          for (const [k, v] of Object.entries(given)) {
            const key = Object.keys(next).find((x) => x.toLowerCase() === k.toLowerCase());
            if (key !== undefined && (v === '' || v === null || String(next[key]) === String(v))) delete next[key];
          }
        } else
          return armError(
            400,
            'InvalidTagOperation',
            `The tag operation '${String(input.operation)}' is invalid. Supported operations are Merge, Replace and Delete.`,
          );
      }
    }
    target.body = { ...target.body, tags: next };
    publish('write', caller, target.id, 'Microsoft.Resources/tags/write');
    return { status: 200, body: tagsJson(target.id, next) };
  };

  return tags;
}
