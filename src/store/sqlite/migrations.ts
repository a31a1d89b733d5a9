import type Database from 'better-sqlite3'

/**
 * Schema migrations of the embedded store, applied in order inside one transaction each by the
 * primary before any worker opens the database. A failed migration rolls back and stops the start.
 */

export interface Migration {
  version: number
  name: string
  sql: string
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'users, rooms, messages',
    sql: `
      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE rooms (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        last_seq INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE messages (
        room_id INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        username TEXT NOT NULL,
        text TEXT NOT NULL,
        ts INTEGER NOT NULL,
        client_msg_id TEXT NOT NULL,
        PRIMARY KEY (room_id, seq)
      ) WITHOUT ROWID;
      CREATE UNIQUE INDEX messages_idempotency ON messages (room_id, user_id, client_msg_id);
    `
  },
  {
    // Users become accounts (a password, a name unique regardless of case) or guests (a name
    // any number of guests may share). The name-only users of 1.0 become guests: a name alone
    // never reaches an account. Revoked tokens are kept until they expire.
    version: 2,
    name: 'accounts and token revocation',
    sql: `
      CREATE TABLE users_v2 (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('account', 'guest')),
        password_hash TEXT,
        created_at INTEGER NOT NULL,
        CHECK ((kind = 'account') = (password_hash IS NOT NULL))
      );
      INSERT INTO users_v2 (id, username, kind, password_hash, created_at)
        SELECT id, username, 'guest', NULL, created_at FROM users;
      DROP TABLE users;
      ALTER TABLE users_v2 RENAME TO users;
      CREATE UNIQUE INDEX users_account_name ON users (username COLLATE NOCASE) WHERE kind = 'account';
      CREATE TABLE revoked_tokens (
        token_key TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at);
    `
  },
  {
    // Rooms that exist before this migration become public rooms without an owner and without
    // members: whoever joins one from now on becomes a member, and nobody can moderate it.
    version: 3,
    name: 'private rooms, memberships, bans, tombstones',
    sql: `
      ALTER TABLE rooms ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'private'));
      ALTER TABLE rooms ADD COLUMN direct INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE rooms ADD COLUMN created_by TEXT;
      CREATE INDEX rooms_created_by ON rooms (created_by, created_at) WHERE created_by IS NOT NULL;
      CREATE TABLE memberships (
        room_id INTEGER NOT NULL,
        user_id TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('owner', 'moderator', 'member')),
        joined_at INTEGER NOT NULL,
        PRIMARY KEY (room_id, user_id)
      ) WITHOUT ROWID;
      CREATE INDEX memberships_by_user ON memberships (user_id, room_id);
      CREATE INDEX memberships_staff ON memberships (room_id, role) WHERE role <> 'member';
      CREATE TABLE bans (
        room_id INTEGER NOT NULL,
        user_id TEXT NOT NULL,
        banned_by TEXT NOT NULL,
        banned_at INTEGER NOT NULL,
        PRIMARY KEY (room_id, user_id)
      ) WITHOUT ROWID;
      ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
      CREATE INDEX messages_by_id ON messages (id);
    `
  }
]

/** Applies every migration newer than the database's version; returns the versions applied. */
export function migrate (db: Database.Database, list: readonly Migration[] = migrations): number[] {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)')
  const row = db.prepare('SELECT MAX(version) AS version FROM schema_migrations').get() as { version: number | null }
  const current = row.version ?? 0
  const applied: number[] = []
  for (const migration of list) {
    if (migration.version <= current) continue
    db.transaction(() => {
      db.exec(migration.sql)
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(migration.version, migration.name, Date.now())
    }).immediate()
    applied.push(migration.version)
  }
  return applied
}
