/**
 * Azure Resource Graph queries (`POST /providers/Microsoft.ResourceGraph/resources`,
 * api-version 2022-10-01), paged with `$skipToken`, through the ARM REST client and its retry policy.
 * https://learn.microsoft.com/rest/api/azureresourcegraph/resourcegraph/resources/resources
 * 2022-10-01 (same request and response as 2021-03-01) adds `options.authorizationScopeFilter`
 * (azure-rest-api-specs specification/resourcegraph/resource-manager/Microsoft.ResourceGraph/stable/
 * 2022-10-01/resourcegraph.json, QueryRequestOptions), which the role lookup needs.
 */
import type { Client } from '@azure-rest/core-client';
import type { TokenCredential } from '@azure/identity';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { createArmClient, ensureOk, send, type AzureClientOptions } from './arm.js';
import { TYPES } from '../policy/resourceTypes.js';

export const RESOURCE_GRAPH_API_VERSION = '2022-10-01';
/** Rows per page: Resource Graph's maximum `$top`. */
const PAGE_SIZE = 1000;

/** Where a budgeted query stops: after this many pages, or once this time (epoch ms) has passed. */
export interface QueryBudget {
  readonly maxPages?: number;
  readonly deadline?: number;
  /** Start at this page: the `skipToken` an earlier budgeted query stopped at (its next run carries on). */
  readonly skipToken?: string;
}

/** A budgeted query's answer: the rows read, and whether they are all of them. */
export interface BudgetedRows {
  readonly rows: ResourceGraphRow[];
  /** False when the budget ran out with pages left: the caller must not treat the rows as the whole answer. */
  readonly complete: boolean;
  readonly pages: number;
  /** When not complete: where the next page starts, for a later run to carry on from. */
  readonly skipToken?: string;
}

export type ResourceGraphRow = Readonly<Record<string, unknown>>;

/**
 * Which authorization resources (the `authorizationresources` table) a query sees, relative to the
 * subscriptions it names. The default, AtScopeAndBelow, leaves out role assignments made on a
 * management group above them; AtScopeAboveAndBelow includes those.
 */
export type AuthorizationScopeFilter = 'AtScopeAndBelow' | 'AtScopeAndAbove' | 'AtScopeExact' | 'AtScopeAboveAndBelow';

/** A role assignment of one principal, from the `authorizationresources` table. */
export interface PrincipalRoleAssignmentRow {
  readonly id: string;
  readonly scope: string;
  /** As Resource Graph gives it (subscription or tenant form); compare by the trailing GUID. */
  readonly roleDefinitionId: string;
  readonly principalId: string;
}

export interface ResourceGraph {
  /** Every row the query answers over the given subscriptions, following `$skipToken` to the end (no page limit). */
  query(
    query: string,
    subscriptions: readonly string[],
    options?: { abortSignal?: AbortSignal; authorizationScopeFilter?: AuthorizationScopeFilter },
  ): Promise<ResourceGraphRow[]>;
  /**
   * The same, but stops when `budget` runs out and says so (`complete: false`), for a caller that
   * would rather finish part of the work and leave the rest to its next run than fail it all.
   */
  queryWithin(
    query: string,
    subscriptions: readonly string[],
    budget: QueryBudget,
    options?: { abortSignal?: AbortSignal },
  ): Promise<BudgetedRows>;
  /**
   * Every role assignment of `principalId` at, below or above the given subscriptions (management
   * groups included), from the `authorizationresources` table. A row without the fields we read is
   * an error, never skipped: this answer decides whether an identity may be federated.
   */
  roleAssignmentsOf(
    principalId: string,
    subscriptions: readonly string[],
    options?: { abortSignal?: AbortSignal },
  ): Promise<PrincipalRoleAssignmentRow[]>;
  /**
   * How many role assignments a subscription holds (what its 4,000 limit counts: at the
   * subscription and below), counted by Resource Graph: one request and one row, however many.
   */
  countRoleAssignments(subscriptionId: string, options?: { abortSignal?: AbortSignal }): Promise<number>;
}

/** Resource Graph: the number of role assignments in the subscriptions queried (`count_`, KQL's name for an unnamed count). */
export const COUNT_ROLE_ASSIGNMENTS_QUERY = `authorizationresources | where type =~ '${TYPES.roleAssignment}' | summarize count()`;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Resource Graph: the role assignments of one principal. `authorizationresources` rows carry the
 * assignment in `properties` as ARM does (`principalId`, `roleDefinitionId`, `scope`, …):
 * https://learn.microsoft.com/azure/governance/resource-graph/samples/samples-by-table#authorizationresources
 */
export function roleAssignmentsOfPrincipalQuery(principalId: string): string {
  if (!GUID.test(principalId)) throw new AppError('InvalidPrincipalId', `principal id ${JSON.stringify(principalId)} is not a GUID`);
  return `authorizationresources | where type =~ '${TYPES.roleAssignment}' and properties.principalId =~ '${principalId}' | project id, properties`;
}

interface QueryResponse {
  readonly data?: unknown;
  readonly $skipToken?: string;
}

/** Creates the Resource Graph adapter; one per app, built in deps.ts. */
export function createResourceGraph(
  config: Config,
  credential: TokenCredential,
  options: { client?: Client; clientOptions?: AzureClientOptions; pageSize?: number } = {},
): ResourceGraph {
  const client = options.client ?? createArmClient(config, credential, options.clientOptions);
  const pageSize = options.pageSize ?? PAGE_SIZE;
  const graph: ResourceGraph = {
    async roleAssignmentsOf(principalId, subscriptions, opts) {
      const rows = await graph.query(roleAssignmentsOfPrincipalQuery(principalId), subscriptions, {
        ...opts,
        authorizationScopeFilter: 'AtScopeAboveAndBelow',
      });
      return rows.map((row) => {
        const p = (row['properties'] ?? {}) as Record<string, unknown>;
        const { scope, roleDefinitionId, principalId: assignee } = p;
        if (
          typeof row['id'] !== 'string' ||
          typeof scope !== 'string' ||
          typeof roleDefinitionId !== 'string' ||
          typeof assignee !== 'string'
        ) {
          throw new AppError(
            'UnexpectedResourceGraphRow',
            `Resource Graph answered a role assignment of ${principalId} without id, scope, roleDefinitionId or principalId`,
          );
        }
        return { id: row['id'], scope, roleDefinitionId, principalId: assignee };
      });
    },
    async countRoleAssignments(subscriptionId, opts) {
      const [row] = await graph.query(COUNT_ROLE_ASSIGNMENTS_QUERY, [subscriptionId], opts);
      const count = row?.['count_'];
      if (typeof count !== 'number' || !Number.isInteger(count))
        throw new AppError(
          'UnexpectedResourceGraphRow',
          `Resource Graph answered no role-assignment count for subscription ${subscriptionId}`,
        );
      return count;
    },
    async query(query, subscriptions, opts) {
      return (await pagedQuery(query, subscriptions, {}, opts)).rows;
    },
    async queryWithin(query, subscriptions, budget, opts) {
      return pagedQuery(query, subscriptions, budget, opts);
    },
  };

  async function pagedQuery(
    query: string,
    subscriptions: readonly string[],
    budget: QueryBudget,
    opts: { abortSignal?: AbortSignal; authorizationScopeFilter?: AuthorizationScopeFilter } | undefined,
  ): Promise<BudgetedRows> {
    const rows: ResourceGraphRow[] = [];
    let skipToken: string | undefined = budget.skipToken;
    for (let page = 0; ; page++) {
      if (
        page > 0 &&
        ((budget.maxPages !== undefined && page >= budget.maxPages) || (budget.deadline !== undefined && Date.now() >= budget.deadline))
      ) {
        return { rows, complete: false, pages: page, ...(skipToken ? { skipToken } : {}) };
      }
      const body = {
        subscriptions,
        query,
        options: {
          resultFormat: 'objectArray',
          $top: pageSize,
          ...(skipToken ? { $skipToken: skipToken } : {}),
          ...(opts?.authorizationScopeFilter ? { authorizationScopeFilter: opts.authorizationScopeFilter } : {}),
        },
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
      if (!skipToken) return { rows, complete: true, pages: page + 1 };
    }
  }
  return graph;
}
