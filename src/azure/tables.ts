import { TableClient } from '@azure/data-tables';
import type { TokenCredential } from '@azure/identity';
import type { Config } from '../config.js';

/**
 * A client for one of the app's tables (`<TABLE_PREFIX><suffix>`), created on first use.
 * In Azure the managed identity reaches `TABLES__tableServiceUri`; for local development a
 * TABLES_CONNECTION_STRING may name a plain-http endpoint, which only a connection string may use.
 */
export function createTableClient(config: Config, credential: TokenCredential, suffix: string): LazyTable {
  const tableName = `${config.tablePrefix}${suffix}`;
  const client = config.tables.connectionString
    ? TableClient.fromConnectionString(config.tables.connectionString, tableName, {
        allowInsecureConnection: config.tables.connectionString.includes('http://'),
      })
    : new TableClient(config.tables.serviceUri ?? '', tableName, credential);
  let ready: Promise<void> | undefined;
  return {
    tableName,
    async client() {
      // createTable answers success when the table already exists.
      ready ??= client.createTable().catch((error: unknown) => {
        ready = undefined;
        throw error;
      });
      await ready;
      return client;
    },
  };
}

export interface LazyTable {
  readonly tableName: string;
  /** The table client, once the table exists. */
  client(): Promise<TableClient>;
}
