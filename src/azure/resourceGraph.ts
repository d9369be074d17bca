/**
 * Azure Resource Graph queries (`POST /providers/Microsoft.ResourceGraph/resources`,
 * api-version 2021-03-01), paged with `$skipToken`, through the ARM REST client and its retry policy.
 * https://learn.microsoft.com/rest/api/azureresourcegraph/resourcegraph/resources/resources
 */
import type { Client } from '@azure-rest/core-client';
import type { TokenCredential } from '@azure/identity';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { createArmClient, ensureOk, send, type AzureClientOptions } from './arm.js';

export const RESOURCE_GRAPH_API_VERSION = '2021-03-01';
const PAGE_SIZE = 1000;
/** A bound on pages, so a runaway query cannot hold an invocation forever. */
const MAX_PAGES = 50;

export type ResourceGraphRow = Readonly<Record<string, unknown>>;

export interface ResourceGraph {
  /** Every row the query answers over the given subscriptions, following `$skipToken`. */
  query(query: string, subscriptions: readonly string[], options?: { abortSignal?: AbortSignal }): Promise<ResourceGraphRow[]>;
}

interface QueryResponse {
  readonly data?: unknown;
  readonly $skipToken?: string;
}

/** Creates the Resource Graph adapter; one per app, built in deps.ts. */
export function createResourceGraph(config: Config, credential: TokenCredential, options: { client?: Client; clientOptions?: AzureClientOptions } = {}): ResourceGraph {
  const client = options.client ?? createArmClient(config, credential, options.clientOptions);
  return {
    async query(query, subscriptions, opts) {
      const rows: ResourceGraphRow[] = [];
      let skipToken: string | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const body = {
          subscriptions,
          query,
          options: { resultFormat: 'objectArray', $top: PAGE_SIZE, ...(skipToken ? { $skipToken: skipToken } : {}) },
        };
        const response = await send(() =>
          client
            .pathUnchecked('/providers/Microsoft.ResourceGraph/resources')
            .post({ queryParameters: { 'api-version': RESOURCE_GRAPH_API_VERSION }, body, abortSignal: opts?.abortSignal }),
        );
        ensureOk(response, 'query Resource Graph');
        const result = response.body as QueryResponse;
        if (Array.isArray(result.data)) rows.push(...(result.data as ResourceGraphRow[]));
        skipToken = result.$skipToken;
        if (!skipToken) return rows;
      }
      throw new AppError('ResourceGraphTooManyPages', `Resource Graph query returned more than ${MAX_PAGES} pages`);
    },
  };
}
