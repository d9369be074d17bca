/** Bundles src/index.ts into `outfile` (default dist/index.cjs); resolves with its absolute path. */
export function bundle(options?: { outfile?: string }): Promise<string>;
