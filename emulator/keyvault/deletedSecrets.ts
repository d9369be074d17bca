/**
 * Soft delete, as Key Vault does it with purge protection off: deleting a secret keeps it as a
 * deleted secret for RECOVERABLE_DAYS, which can be listed, read (metadata only), recovered or purged.
 * https://learn.microsoft.com/azure/key-vault/general/soft-delete-overview
 */
import {
  kvError,
  latest,
  RECOVERABLE_DAYS,
  SECRET_ACTIONS,
  secretNotFound,
  toBundle,
  toDeleted,
  toItem,
  type DeletedSecret,
  type RouteFn,
} from './model.js';

/** The routes of deleting a secret and of its deleted copy; `nowSec` is the emulator clock in epoch seconds. */
export function registerDeletedSecretRoutes(route: RouteFn, nowSec: () => number): void {
  route('DELETE', /^\/secrets\/(?<name>[^/]+)\/?$/i, '/secrets/{name}', SECRET_ACTIONS.delete, (vault, req) => {
    const key = req.params.name!.toLowerCase();
    const s = vault.secrets.get(key);
    if (!s) return secretNotFound(vault, req.params.name!);
    vault.secrets.delete(key);
    const now = nowSec();
    const d: DeletedSecret = { secret: s, deletedDate: now, scheduledPurgeDate: now + RECOVERABLE_DAYS * 86_400 };
    vault.deleted.set(key, d);
    return { status: 200, body: toDeleted(vault, d, false) };
  });

  const deletedNotFound = (name: string) => kvError(404, 'SecretNotFound', `Deleted Secret not found: ${name}`);
  route('GET', /^\/deletedsecrets\/?$/i, '/deletedsecrets', SECRET_ACTIONS.readMetadata, (vault) => ({
    status: 200,
    body: {
      value: [...vault.deleted.values()].map((d) => ({
        recoveryId: `${vault.uri}deletedsecrets/${d.secret.name}`,
        deletedDate: d.deletedDate,
        scheduledPurgeDate: d.scheduledPurgeDate,
        ...toItem(vault, d.secret, latest(d.secret), false),
      })),
      nextLink: null,
    },
  }));
  route('GET', /^\/deletedsecrets\/(?<name>[^/]+)\/?$/i, '/deletedsecrets/{name}', SECRET_ACTIONS.readMetadata, (vault, req) => {
    const d = vault.deleted.get(req.params.name!.toLowerCase());
    return d ? { status: 200, body: toDeleted(vault, d, false) } : deletedNotFound(req.params.name!);
  });
  route(
    'POST',
    /^\/deletedsecrets\/(?<name>[^/]+)\/recover\/?$/i,
    '/deletedsecrets/{name}/recover',
    SECRET_ACTIONS.recover,
    (vault, req) => {
      const key = req.params.name!.toLowerCase();
      const d = vault.deleted.get(key);
      if (!d) return deletedNotFound(req.params.name!);
      vault.deleted.delete(key);
      vault.secrets.set(key, d.secret);
      return { status: 200, body: toBundle(vault, d.secret, latest(d.secret), false) };
    },
  );
  route('DELETE', /^\/deletedsecrets\/(?<name>[^/]+)\/?$/i, '/deletedsecrets/{name}', SECRET_ACTIONS.purge, (vault, req) => {
    const key = req.params.name!.toLowerCase();
    if (!vault.deleted.delete(key)) return deletedNotFound(req.params.name!);
    return { status: 204 };
  });
}
