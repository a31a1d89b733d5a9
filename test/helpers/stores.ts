import { startPostgres } from '../../scripts/services.js'
import type { ClusterOptions } from './cluster.js'

/**
 * Running a behaviour on both store backends: the embedded SQLite file and PostgreSQL (a private
 * server per test, torn down with it). A test file loops over STORES and builds its cluster
 * options with onStore().
 */

export const STORES = ['sqlite', 'postgres'] as const
export type StoreName = typeof STORES[number]

interface Teardown { teardown: (fn: () => unknown) => void }

/** `options` with the store's settings added (for postgres, after starting a private server). */
export async function onStore (t: Teardown, store: StoreName, options: ClusterOptions = {}): Promise<ClusterOptions> {
  if (store === 'sqlite') return options
  const pg = await startPostgres()
  t.teardown(() => pg.stop())
  return { ...options, env: { STORE: 'postgres', DATABASE_URL: pg.url, ...options.env } }
}
