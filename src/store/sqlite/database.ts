import { accessSync, chmodSync, constants, existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { migrate } from './migrations.js'

/**
 * Opening the embedded SQLite store. One file in DATA_DIR, WAL mode so readers never wait for the
 * writer: each worker process has one read connection on its event loop, and the primary's store
 * thread holds the one write connection.
 */

export const DATABASE_FILE = 'chat.sqlite'

export type SyncMode = 'full' | 'normal'

export interface OpenOptions {
  readonly?: boolean
  sync?: SyncMode
  /** How long a writer waits for another process's write lock before failing, in milliseconds. */
  busyTimeoutMs?: number
}

export function databasePath (dataDir: string): string {
  return join(dataDir, DATABASE_FILE)
}

/** Opens a connection with the store's pragmas. */
export function openDatabase (file: string, options: OpenOptions = {}): Database.Database {
  const db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false })
  db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`)
  if (!(options.readonly ?? false)) {
    db.pragma(`synchronous = ${options.sync === 'normal' ? 'NORMAL' : 'FULL'}`)
  }
  db.pragma('cache_size = -16000') // 16 MB page cache per connection
  return db
}

/** Owner-only access to the database and its WAL files (SQLite gives new -wal/-shm files the database's mode). */
function restrictFiles (file: string): void {
  for (const path of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      if (existsSync(path)) chmodSync(path, 0o600)
    } catch {} // a read-only volume: the store's own checks report what matters
  }
}

/**
 * Creates the data directory (mode 0700) and database (0600) on first start, switches it to
 * WAL and applies migrations. Run once by the primary before it forks workers; throws (with the path in the
 * message) when the directory is not writable or a migration fails.
 */
export function prepareDatabase (dataDir: string): { file: string, applied: number[] } {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  accessSync(dataDir, constants.W_OK)
  const file = databasePath(dataDir)
  const db = openDatabase(file)
  try {
    restrictFiles(file)
    const mode = db.pragma('journal_mode = WAL', { simple: true })
    if (mode !== 'wal') throw new Error(`could not switch ${file} to WAL mode (got ${String(mode)})`)
    const applied = migrate(db)
    db.pragma('wal_checkpoint(TRUNCATE)')
    restrictFiles(file)
    return { file, applied }
  } finally {
    db.close()
  }
}
