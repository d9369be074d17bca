/** User-assigned managed identities and their federated identity credentials. */
import type { EmuResponse } from '../../core/contract.js';
import { armError } from '../errors.js';
import { keyOf } from '../ids.js';
import type { ResourceKit, ResourceType } from '../resourceKit.js';
import { isObject } from '../state.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The user-assigned identity a federated identity credential id belongs to. */
const identityOfFic = (ficId: string) => ficId.replace(/\/federatedIdentityCredentials\/[^/]+$/i, '');

/**
 * Entra rejects a federated-credential write while another write on the same user-assigned identity
 * is in flight: "Creating multiple federated identity credentials under the same user-assigned managed
 * identity concurrently triggers concurrency detection logic, which causes requests to fail with
 * 409-conflict HTTP status code" (https://learn.microsoft.com/entra/workload-id/workload-identity-federation-considerations,
 * "Concurrent updates aren't supported").
 */
const concurrentFicWrites = (ficId: string): EmuResponse =>
  armError(
    409,
    'ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity',
    `Too many Federated Identity Credentials are written concurrently for the managed identity '${identityOfFic(ficId)}'. Concurrent Federated Identity Credentials writes under the same managed identity are not supported.`,
  );

export function identityTypes({ ctx, state, addManagedIdentityPrincipal }: ResourceKit): ResourceType[] {
  return [
    {
      type: 'Microsoft.ManagedIdentity/userAssignedIdentities', // msi/.../examples/IdentityCreate.json
      fill: ({ id, name, props, prev }) => {
        const principalId = typeof prev.principalId === 'string' ? prev.principalId : undefined;
        if (principalId && ctx.directory.get(principalId))
          Object.assign(props, { tenantId: prev.tenantId, principalId, clientId: prev.clientId });
        else {
          const { objectId, appId } = addManagedIdentityPrincipal(name, id);
          Object.assign(props, { tenantId: ctx.tenantId, principalId: objectId, clientId: appId });
        }
        props.isolationScope ??= 'None';
        return undefined;
      },
      onDelete: (r) => {
        const pid = isObject(r.body.properties) ? r.body.properties.principalId : undefined;
        if (typeof pid === 'string') ctx.directory.remove(pid);
      },
    },
    {
      type: 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials', // msi/.../2023-01-31/examples/FederatedIdentityCredentialCreate.json
      untagged: true,
      fill: ({ props }) => {
        if (typeof props.issuer !== 'string' || typeof props.subject !== 'string' || !Array.isArray(props.audiences))
          return armError(
            400,
            'BadRequest',
            'The federated identity credential requires properties.issuer, properties.subject and properties.audiences.',
          );
        return undefined;
      },
      // Entra's concurrency rule covers every federated-credential write on one identity, deletes
      // included; the cap applies to creates. A write stays in flight for ficWriteDurationMs.
      guard: async (id, existing, op) => {
        const identityKey = keyOf(identityOfFic(id));
        if (state.ficInFlight.has(identityKey)) return { refused: concurrentFicWrites(id) };
        if (op === 'write') {
          const count = [...state.resources.values()].filter((r) =>
            keyOf(r.id).startsWith(identityKey + '/federatedidentitycredentials/'),
          ).length;
          if (!existing && count >= state.options.ficLimit)
            return {
              refused: armError(
                400,
                'BadRequest',
                `Too many Federated Identity Credentials are written to the managed identity. The maximum number of Federated Identity Credentials per managed identity is ${state.options.ficLimit}.`,
              ),
            };
        }
        state.ficInFlight.add(identityKey);
        const release = () => void state.ficInFlight.delete(identityKey);
        try {
          await sleep(state.options.ficWriteDurationMs);
        } catch (error) {
          release();
          throw error;
        }
        return { release };
      },
    },
  ];
}
