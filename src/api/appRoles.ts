/**
 * Who may call the HTTP API in Azure: the app roles of its Microsoft Entra app registration, and
 * the paths App Service Authentication lets through without a token. One table for the code and
 * the infra: `infra/scripts/generatedFiles.ts` writes it to `infra/generated/apiAuth.json`, which
 * `infra/app/apiAuth.bicep` loads for the app registration's `appRoles` and the Function App's
 * `authsettingsV2` `excludedPaths` (test/unit/infra holds the two in step).
 *
 * The roles matter only with App Service Authentication on (`WEBSITE_AUTH_ENABLED`); locally and
 * with it off, a function key is the only credential and every key holder may call every route.
 */

/** An app role: the `value` Entra puts in the token's `roles` claim, and the fixed `id` of its `appRoles` entry. */
export interface AppRole {
  readonly value: string;
  /** Stable across tenants and redeployments: Entra refuses to change the id of a role in use. */
  readonly id: string;
  readonly displayName: string;
  readonly description: string;
}

export const APP_ROLES = {
  read: {
    value: 'Access.Read',
    id: 'dea54fcf-f348-4372-8b51-6707ab0298e6',
    displayName: 'Read access decisions',
    description: 'Read the audit trail, pull-credential enrolments and health, and preview what a tag or a manual grant would do.',
  },
  write: {
    value: 'Access.Write',
    id: '9c9a83b1-a4b9-4dd1-9fe4-f2ba6d3cc106',
    displayName: 'Grant, revoke, rotate and enrol',
    description:
      'Grant and revoke registry access by hand (within registry consent), enrol and un-enrol registries for pull credentials, rotate now. Includes Access.Read.',
  },
} as const satisfies Record<string, AppRole>;
export type AppRoleKey = keyof typeof APP_ROLES;

/** The role values that satisfy a route's role: a writer may also read what it writes. */
export function rolesSatisfying(required: AppRoleKey): readonly string[] {
  return required === 'read' ? [APP_ROLES.read.value, APP_ROLES.write.value] : [APP_ROLES.write.value];
}

/**
 * The Event Grid webhook of the Functions host. Event Grid delivers to an Azure Function endpoint
 * here with the host's `eventgrid_extension` system key and no Entra token, so App Service
 * Authentication must let it through; the key still guards it. Both spellings, because Event Grid
 * writes `EventGrid` and the Functions docs `eventgrid`, and App Service does not document whether
 * `excludedPaths` compares case-insensitively.
 */
export const EVENT_GRID_WEBHOOK_PATHS = ['/runtime/webhooks/eventgrid', '/runtime/webhooks/EventGrid'] as const;

/** The OpenAPI document: anonymous at the host too (it describes the API and holds no data). */
export const OPENAPI_DOCUMENT_PATH = '/api/openapi.json';

/** Every path App Service Authentication lets through without a token (`globalValidation.excludedPaths`). */
export const UNAUTHENTICATED_PATHS: readonly string[] = [...EVENT_GRID_WEBHOOK_PATHS, OPENAPI_DOCUMENT_PATH];
