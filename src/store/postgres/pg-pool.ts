import pg from 'pg'
import type { Logger } from 'pino'

/**
 * Connections to PostgreSQL, as every part of the PostgreSQL store opens them: named
 * `chat-service` (operators and tests find the service's backends in pg_stat_activity by that
 * name), with a connect timeout and a client-side query timeout (a network partition never
 * leaves a read or a commit waiting forever), TCP keepalive, and int8 columns (seq, ts, counts)
 * parsed as JS numbers. The parsers are the connection's own: pg's global parsers stay as they
 * are for any other user of `pg` in the process.
 *
 * A pool's idle client whose backend goes away (pg_terminate_backend, a database restart) emits
 * 'error' on the pool; unheard, that error would end the process. The pool hears it, logs it and
 * drops the client; the next query opens a new connection.
 */

export const APPLICATION_NAME = 'chat-service'

/** The longest any one query may take before its connection is given up (a partition, a hung server). */
export const QUERY_TIMEOUT_MS = 15_000

const INT8 = 20
const INT8_ARRAY = 1016
const parseInt8 = (value: string): number => Number(value)
const parseInt8Array = pg.types.getTypeParser(INT8_ARRAY as Parameters<typeof pg.types.getTypeParser>[0], 'text') as (value: string) => string[] | null

function getTypeParser (oid: number, format?: 'text' | 'binary'): unknown {
  if (format !== 'binary') {
    if (oid === INT8) return parseInt8
    if (oid === INT8_ARRAY) return (value: string) => parseInt8Array(value)?.map(Number) ?? null
  }
  return format === 'binary' ? pg.types.getTypeParser(oid, 'binary') : pg.types.getTypeParser(oid, 'text')
}

/** The type parsers of every connection of the store: pg's defaults, but int8 as a number. */
export const storeTypes: pg.CustomTypesConfig = { getTypeParser: getTypeParser as pg.CustomTypesConfig['getTypeParser'] }

export interface ConnectionOptions {
  url: string
  connectTimeoutMs: number
  /** Client-side limit on each query (default QUERY_TIMEOUT_MS). */
  queryTimeoutMs?: number
  /** Server-side: a session idle inside a transaction this long is ended, releasing its locks. */
  idleInTransactionTimeoutMs?: number
}

/** The client configuration shared by the pool, the writer's connection and migrations. */
export function connectionConfig (options: ConnectionOptions): pg.ClientConfig {
  const config: pg.ClientConfig = {
    connectionString: options.url,
    application_name: APPLICATION_NAME,
    connectionTimeoutMillis: options.connectTimeoutMs,
    query_timeout: options.queryTimeoutMs ?? QUERY_TIMEOUT_MS,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    types: storeTypes
  }
  if (options.idleInTransactionTimeoutMs !== undefined) config.idle_in_transaction_session_timeout = options.idleInTransactionTimeoutMs
  return config
}

/** `host:port/db` of a database URL, never its user or password (for logs and error messages). */
export function describeDatabase (url: string): string {
  try {
    const parsed = new URL(url)
    return `${parsed.hostname}:${parsed.port === '' ? '5432' : parsed.port}${parsed.pathname}`
  } catch {
    return '(unparsable URL)'
  }
}

/**
 * Why a connection or query failed, in one line. Node reports a refused connection to a name with
 * several addresses (localhost: ::1 and 127.0.0.1) as an AggregateError with an empty message.
 */
export function reasonOf (error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  if (error.message !== '') return error.message
  if (error instanceof AggregateError && error.errors.length > 0) return error.errors.map(reasonOf).join('; ')
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' ? code : error.name
}

export interface PoolStats {
  /** Connections open (idle or in use). */
  total: number
  idle: number
  /** Queries waiting for a connection. */
  waiting: number
}

export interface PgPoolOptions extends ConnectionOptions {
  /** Most connections open at once. */
  max: number
  /** How long an unused connection stays open (default 30 s). */
  idleTimeoutMs?: number
  logger?: Logger
}

export interface PgPool {
  pool: pg.Pool
  stats: () => PoolStats
  /** Closes every connection; idempotent. */
  end: () => Promise<void>
}

export function createPgPool (options: PgPoolOptions): PgPool {
  const pool = new pg.Pool({
    ...connectionConfig(options),
    max: options.max,
    idleTimeoutMillis: options.idleTimeoutMs ?? 30_000
  })
  const where = describeDatabase(options.url)
  pool.on('error', (error) => {
    options.logger?.warn({ err: error, database: where }, 'an idle PostgreSQL connection failed; it is dropped and reopened on demand')
  })
  let ended: Promise<void> | undefined
  return {
    pool,
    stats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    end: () => {
      ended ??= pool.end()
      return ended
    }
  }
}
