import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import { migrate, migrations } from '../src/store/sqlite/migrations.js'

/**
 * Migration 2 on a 1.0 store: its name-only users become guests (their messages keep their
 * userIds), guests may share a name, and an account name is unique in any case.
 */

t.test('1.0 users become guests; accounts are unique regardless of case', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'chat-migrate-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const db = new Database(join(dir, 'chat.sqlite'))
  t.teardown(() => db.close())
  t.same(migrate(db, migrations.slice(0, 1)), [1], 'a 1.0 store')
  db.prepare('INSERT INTO users (id, username, created_at) VALUES (?, ?, ?)').run('old-alice', 'alice', 1)

  t.same(migrate(db), [2, 3], 'migration 2 (and the rooms one after it) applies')
  t.same(db.prepare('SELECT id, username, kind, password_hash FROM users').all(), [{ id: 'old-alice', username: 'alice', kind: 'guest', password_hash: null }], 'the 1.0 user is a guest now')
  db.prepare("INSERT INTO users (id, username, kind, created_at) VALUES ('guest-2', 'alice', 'guest', 2)").run()
  t.pass('another guest may share the name')
  db.prepare("INSERT INTO users (id, username, kind, password_hash, created_at) VALUES ('acct', 'alice', 'account', 'scrypt$x', 3)").run()
  t.pass('an account may be registered over guests of that name')
  t.throws(() => db.prepare("INSERT INTO users (id, username, kind, password_hash, created_at) VALUES ('acct-2', 'ALICE', 'account', 'scrypt$y', 4)").run(), /UNIQUE/, 'one account per name, any case')
  t.throws(() => db.prepare("INSERT INTO users (id, username, kind, created_at) VALUES ('acct-3', 'bob', 'account', 5)").run(), /CHECK/, 'an account has a password hash')
  t.same(migrate(db), [], 'nothing left to apply')
})
