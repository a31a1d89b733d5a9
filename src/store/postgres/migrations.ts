import pg from 'pg'
import { connectionConfig, describeDatabase, reasonOf } from './pg-pool.js'

/**
 * Schema migrations of the PostgreSQL store, applied by each VM's primary before it forks
 * workers. Several VMs may start at once against one database: each migration runs in its own
 * transaction that first takes one transaction-level advisory lock, then (re)reads the schema's
 * version, so exactly one VM applies each migration and the others see it applied. A failed
 * migration rolls back and stops the start.
 *
 * The schema is the SQLite store's after its migrations 1–3 (src/store/sqlite/migrations.ts),
 * in PostgreSQL's types: times are bigint milliseconds, flags are booleans, room ids an int4
 * identity (a JS number without parsing) and every seq a bigint (parsed as a number, see
 * pg-pool.ts). Account names are unique whatever their case through an index on lower(username)
 * (names are ASCII, so this is SQLite's COLLATE NOCASE). As in SQLite there are no foreign keys:
 * a foreign key check would take a share lock on the room row that the writers lock for every
 * append. `write_batches` holds the results of each committed batch that did more than append,
 * so a batch retried after a commit of unknown outcome answers what it did instead of redoing it
 * (pg-writer.ts).
 */

export interface PgMigration {
  version: number
  name: string
  sql: string
}

/** Every migration's transaction takes this lock first ('chat' in ASCII). */
export const MIGRATION_LOCK = 0x63686174

export const pgMigrations: readonly PgMigration[] = [
  {
    version: 1,
    name: 'users, rooms, messages, memberships, bans, revoked tokens',
    sql: `
      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('account', 'guest')),
        password_hash TEXT,
        created_at BIGINT NOT NULL,
        CHECK ((kind = 'account') = (password_hash IS NOT NULL))
      );
      CREATE UNIQUE INDEX users_account_name ON users (lower(username)) WHERE kind = 'account';
      CREATE TABLE rooms (
        id INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        last_seq BIGINT NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        visibility TEXT NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'private')),
        direct BOOLEAN NOT NULL DEFAULT false,
        created_by TEXT
      );
      CREATE INDEX rooms_created_by ON rooms (created_by, created_at) WHERE created_by IS NOT NULL;
      CREATE TABLE messages (
        room_id INTEGER NOT NULL,
        seq BIGINT NOT NULL,
        id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        username TEXT NOT NULL,
        text TEXT NOT NULL,
        ts BIGINT NOT NULL,
        client_msg_id TEXT NOT NULL,
        deleted BOOLEAN NOT NULL DEFAULT false,
        PRIMARY KEY (room_id, seq),
        CONSTRAINT messages_idempotency UNIQUE (room_id, user_id, client_msg_id)
      );
      CREATE INDEX messages_by_id ON messages (id);
      CREATE TABLE memberships (
        room_id INTEGER NOT NULL,
        user_id TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('owner', 'moderator', 'member')),
        joined_at BIGINT NOT NULL,
        PRIMARY KEY (room_id, user_id)
      );
      CREATE INDEX memberships_by_user ON memberships (user_id, room_id);
      CREATE INDEX memberships_staff ON memberships (room_id, role) WHERE role <> 'member';
      CREATE TABLE bans (
        room_id INTEGER NOT NULL,
        user_id TEXT NOT NULL,
        banned_by TEXT NOT NULL,
        banned_at BIGINT NOT NULL,
        PRIMARY KEY (room_id, user_id)
      );
      CREATE TABLE revoked_tokens (
        token_key TEXT PRIMARY KEY,
        expires_at BIGINT NOT NULL
      );
      CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at);
    `
  },
  {
    version: 2,
    name: 'results of committed batches, for retries',
    sql: `
      CREATE TABLE write_batches (
        id TEXT PRIMARY KEY,
        results JSONB NOT NULL,
        at BIGINT NOT NULL
      );
      CREATE INDEX write_batches_at ON write_batches (at);
    `
  }
]

type Queryable = Pick<pg.ClientBase, 'query'>

/** Applies one pending migration under the lock; the version applied, or undefined when none was pending. */
async function applyNext (client: Queryable, list: readonly PgMigration[]): Promise<number | undefined> {
  await client.query('BEGIN')
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)')
    const { rows } = await client.query<{ version: number | null }>('SELECT MAX(version) AS version FROM schema_migrations')
    const current = rows[0]?.version ?? 0
    const next = list.find((migration) => migration.version > current)
    if (next !== undefined) {
      await client.query(next.sql)
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [next.version, next.name, Date.now()])
    }
    await client.query('COMMIT')
    return next?.version
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  }
}

/**
 * Applies every migration newer than the database's version, each in its own transaction, in
 * order; returns the versions this call applied (none when another VM got there first).
 */
export async function migratePostgres (db: pg.Pool | pg.ClientBase, list: readonly PgMigration[] = pgMigrations): Promise<number[]> {
  const client = db instanceof pg.Pool ? await db.connect() : db
  try {
    const applied: number[] = []
    for (;;) {
      const version = await applyNext(client, list)
      if (version === undefined) return applied
      applied.push(version)
    }
  } finally {
    if (db instanceof pg.Pool) (client as pg.PoolClient).release()
  }
}

export interface PrepareOptions {
  connectTimeoutMs: number
}

/**
 * Connects (within `connectTimeoutMs`), migrates and disconnects; run once by the primary before
 * it forks workers. Throws one Error naming the database (never its password) when it cannot be
 * reached, or the migration's own error when one fails.
 */
export async function preparePostgres (url: string, options: PrepareOptions): Promise<{ applied: number[] }> {
  const client = new pg.Client(connectionConfig({ url, connectTimeoutMs: options.connectTimeoutMs }))
  // A backend that goes away after the connect rejects the query in flight; without a listener
  // the same failure would also end the process as an 'error' event.
  client.on('error', () => {})
  try {
    await client.connect()
  } catch (error) {
    await client.end().catch(() => {})
    throw new Error(`PostgreSQL at ${describeDatabase(url)} is unreachable: ${reasonOf(error)}`)
  }
  try {
    return { applied: await migratePostgres(client) }
  } finally {
    await client.end().catch(() => {})
  }
}
