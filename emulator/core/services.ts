import type { ServiceRegistry, Services } from './contract.js';

export class EmulatorServices implements ServiceRegistry {
  private readonly impls = new Map<keyof Services, unknown>();

  provide<K extends keyof Services>(key: K, impl: Services[K]): void {
    this.impls.set(key, impl);
  }

  get<K extends keyof Services>(key: K): Services[K] {
    const impl = this.impls.get(key);
    if (impl === undefined) throw new Error(`No emulator module provides the '${String(key)}' service yet`);
    return impl as Services[K];
  }

  has(key: keyof Services): boolean {
    return this.impls.has(key);
  }
}
