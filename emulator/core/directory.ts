import type { Clock, Directory, DirectoryPrincipal } from './contract.js';

/** The tenant's principals. New ones stay invisible to ARM for the configured replication delay. */
export class EmulatorDirectory implements Directory {
  private readonly byObjectId = new Map<string, DirectoryPrincipal>();

  constructor(
    private readonly clock: Clock,
    private readonly replicationDelayMs: () => number,
  ) {}

  add(principal: DirectoryPrincipal): void {
    this.byObjectId.set(principal.objectId.toLowerCase(), principal);
  }

  remove(objectId: string): void {
    this.byObjectId.delete(objectId.toLowerCase());
  }

  get(objectId: string): DirectoryPrincipal | undefined {
    return this.byObjectId.get(objectId.toLowerCase());
  }

  getByAppId(appId: string): DirectoryPrincipal | undefined {
    const wanted = appId.toLowerCase();
    for (const p of this.byObjectId.values()) if (p.appId?.toLowerCase() === wanted) return p;
    return undefined;
  }

  list(): DirectoryPrincipal[] {
    return [...this.byObjectId.values()];
  }

  isReplicated(objectId: string): boolean {
    const p = this.get(objectId);
    if (!p) return false;
    return this.clock.now().getTime() - p.createdAt.getTime() >= this.replicationDelayMs();
  }

  clear(): void {
    this.byObjectId.clear();
  }
}
