import type { Logger } from 'pino'
import type { Config } from '../config.js'
import type { StoreMetrics } from '../ops/metrics.js'
import type { StoreReader, StoreWriter, WriterHooks } from './store.js'

/**
 * Picks the store backend (STORE): the embedded SQLite file (one VM) or PostgreSQL (several
 * VMs). Each backend is imported only when chosen, so a SQLite deployment never loads `pg`.
 */

/** A writer, and whether it can reach its store now (for /readyz). */
export interface OpenedWriter extends StoreWriter {
  available: () => boolean
}

/**
 * Prepares the store before any worker starts: the data directory, the file and its migrations
 * (SQLite), or the connection and migrations (PostgreSQL). Throws one clear error when the
 * store cannot be reached or migrated; the primary refuses to start with it.
 */
export async function prepareStore (config: Config): Promise<Record<string, unknown>> {
  if (config.STORE === 'postgres') {
    const { preparePostgres } = await import('./postgres/migrations.js')
    const { applied } = await preparePostgres(config.DATABASE_URL as string, { connectTimeoutMs: config.PG_CONNECT_TIMEOUT_MS })
    return { store: 'postgres', database: describeUrl(config.DATABASE_URL as string), migrationsApplied: applied }
  }
  const { prepareDatabase } = await import('./sqlite/database.js')
  const { file, applied } = prepareDatabase(config.DATA_DIR_ABSOLUTE)
  return { store: 'sqlite', file, migrationsApplied: applied }
}

/** A worker's read side; `onRead` hears how long each page read took. */
export async function openReader (config: Config, onRead: (durationMs: number) => void, logger: Logger): Promise<StoreReader & { stats?: () => { total: number, idle: number, waiting: number } }> {
  if (config.STORE === 'postgres') {
    const { PgReader } = await import('./postgres/pg-reader.js')
    return new PgReader({ url: config.DATABASE_URL as string, poolSize: config.PG_POOL_SIZE, connectTimeoutMs: config.PG_CONNECT_TIMEOUT_MS, onRead, logger })
  }
  const { SqliteReader } = await import('./sqlite/sqlite-reader.js')
  const { databasePath } = await import('./sqlite/database.js')
  return new SqliteReader(databasePath(config.DATA_DIR_ABSOLUTE), onRead)
}

/** The VM's one writer (in the primary, or in the only worker). */
export async function openWriter (config: Config, hooks: WriterHooks, logger: Logger): Promise<OpenedWriter> {
  if (config.STORE === 'postgres') {
    const { PgWriter } = await import('./postgres/pg-writer.js')
    return new PgWriter({ url: config.DATABASE_URL as string, maxBatch: config.STORE_MAX_BATCH, connectTimeoutMs: config.PG_CONNECT_TIMEOUT_MS, logger, ...hooks })
  }
  const { SqliteWriter } = await import('./sqlite/sqlite-writer.js')
  const { databasePath } = await import('./sqlite/database.js')
  return new SqliteWriter({ file: databasePath(config.DATA_DIR_ABSOLUTE), sync: config.STORE_SYNC, maxBatch: config.STORE_MAX_BATCH, ...hooks })
}

/** The `onCommit` that records each transaction in the store metrics and logs a failed one. */
export function observeCommits (metrics: StoreMetrics, logger: Logger): NonNullable<WriterHooks['onCommit']> {
  return (ops, durationMs, ok) => {
    metrics.storeCommit.observe(durationMs / 1000)
    metrics.storeBatch.observe(ops)
    if (!ok) {
      metrics.storeFailures.inc()
      logger.error({ ops }, 'store transaction failed; its requests are answered with an error')
    }
  }
}

/** A database URL without its password, for logs. */
export function describeUrl (url: string): string {
  try {
    const parsed = new URL(url)
    return `${parsed.hostname}:${parsed.port === '' ? '5432' : parsed.port}${parsed.pathname}`
  } catch {
    return '(unparsable URL)'
  }
}
