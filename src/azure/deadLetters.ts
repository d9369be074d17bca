/**
 * Events Event Grid gave up on: the blobs its subscriptions dead-letter into the
 * `eventgrid-deadletter` container of the app's storage account (infra/main.bicep), the account that
 * also holds the app's tables. Event Grid names each blob
 * `<SUBSCRIPTION NAME IN UPPER CASE>/<YYYY>/<M>/<D>/<H>/<guid>.json` (the date and hour in UTC, not
 * zero-padded; a topic name may come first), and each holds one or more events
 * (https://learn.microsoft.com/azure/event-grid/manage-event-delivery#set-dead-letter-location).
 * The app only lists them: names and times, never their content.
 */
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import type { TokenCredential } from '@azure/identity';
import type { Config } from '../config.js';

/** The container infra/main.bicep gives Event Grid (`deadLetterContainerName`). */
export const DEAD_LETTER_CONTAINER = 'eventgrid-deadletter';
/** Blobs listed at most per call: enough to say "many", bounded in cost. */
export const DEAD_LETTER_LIST_LIMIT = 5000;

export interface DeadLetterCount {
  /** Dead-letter blobs in the container (each holds one or more events), up to the listing limit. */
  readonly blobs: number;
  /** Of those, written since `since`. */
  readonly recent: number;
  /** When the newest was written. */
  readonly newest?: string;
  /** Blobs per Event Grid subscription (the path segment before the year). */
  readonly bySubscription: Readonly<Record<string, number>>;
  /** True when the listing stopped at DEAD_LETTER_LIST_LIMIT. */
  readonly truncated: boolean;
}

export interface DeadLetters {
  count(since: Date, options?: { abortSignal?: AbortSignal }): Promise<DeadLetterCount>;
}

/**
 * The dead-letter container of the account behind the table settings: with the managed identity at
 * the blob endpoint of `TABLES__tableServiceUri`'s account, or through a connection string that names
 * a `BlobEndpoint` (local). Undefined when neither says where blobs are.
 */
export function createDeadLetters(config: Config, credential: TokenCredential): DeadLetters | undefined {
  const container = containerClient(config, credential);
  return container ? { count: (since, options) => countDeadLetters(container, since, options) } : undefined;
}

function containerClient(config: Config, credential: TokenCredential): ContainerClient | undefined {
  const { connectionString, serviceUri } = config.tables;
  if (connectionString) {
    if (!/(^|;)\s*BlobEndpoint=/i.test(connectionString)) return undefined;
    return BlobServiceClient.fromConnectionString(connectionString).getContainerClient(DEAD_LETTER_CONTAINER);
  }
  const blobUri = serviceUri ? blobEndpointOf(serviceUri) : undefined;
  return blobUri ? new BlobServiceClient(blobUri, credential).getContainerClient(DEAD_LETTER_CONTAINER) : undefined;
}

/** `https://<account>.table.<suffix>` → `https://<account>.blob.<suffix>`: the same account's blob service. */
export function blobEndpointOf(tableServiceUri: string): string | undefined {
  const match = /^https:\/\/([a-z0-9]+)\.table\.([^/]+)\/?$/i.exec(tableServiceUri.trim());
  return match ? `https://${match[1]}.blob.${match[2]}` : undefined;
}

/** The Event Grid subscription a dead-letter blob belongs to: the path segment before the year. */
export function subscriptionOfBlob(name: string): string {
  const parts = name.split('/');
  const year = parts.findIndex((p, i) => i > 0 && /^\d{4}$/.test(p));
  return year > 0 ? parts[year - 1]! : (parts[0] ?? name);
}

async function countDeadLetters(
  container: ContainerClient,
  since: Date,
  options: { abortSignal?: AbortSignal } = {},
): Promise<DeadLetterCount> {
  let blobs = 0;
  let recent = 0;
  let newest: number | undefined;
  let truncated = false;
  const bySubscription: Record<string, number> = {};
  // A container Event Grid has not written to yet does not exist: nothing was dead-lettered.
  if (!(await container.exists({ abortSignal: options.abortSignal }))) return { blobs, recent, bySubscription, truncated };
  for await (const blob of container.listBlobsFlat({ abortSignal: options.abortSignal })) {
    if (blobs >= DEAD_LETTER_LIST_LIMIT) {
      truncated = true;
      break;
    }
    blobs++;
    const written = (blob.properties.createdOn ?? blob.properties.lastModified).getTime();
    if (written >= since.getTime()) recent++;
    newest = Math.max(newest ?? 0, written);
    const subscription = subscriptionOfBlob(blob.name);
    bySubscription[subscription] = (bySubscription[subscription] ?? 0) + 1;
  }
  return { blobs, recent, bySubscription, truncated, ...(newest !== undefined ? { newest: new Date(newest).toISOString() } : {}) };
}
