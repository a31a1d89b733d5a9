import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import { prepareDatabase } from '../src/store/sqlite/database.js'
import { MESSAGE_COLUMNS } from '../src/store/rows.js'

/**
 * Every read the service makes walks an index: join pages, history, REST pages, gap fills and
 * the idempotency check never scan a table (SQLite's own query plans say so).
 */

t.test('query plans use the primary key and the idempotency index', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'chat-plans-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { file } = prepareDatabase(dir)
  const db = new Database(file, { readonly: true })
  t.teardown(() => db.close())
  const plan = (sql: string, ...params: unknown[]): string =>
    (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>).map((row) => row.detail).join(' | ')

  const queries: Array<[string, string, unknown[]]> = [
    ['page backwards (history, join without since, REST)', `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE room_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`, [1, 100, 50]],
    ['page forwards (join with since, gap fill, REST after)', `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE room_id = ? AND seq > ? AND seq < ? ORDER BY seq ASC LIMIT ?`, [1, 10, 100, 50]],
    ['idempotency check', 'SELECT id, seq, ts FROM messages WHERE room_id = ? AND user_id = ? AND client_msg_id = ?', [1, 'u', 'c']],
    ['room by name', 'SELECT id, last_seq FROM rooms WHERE name = ?', ['lobby']],
    ['room with visibility', 'SELECT id, visibility, direct FROM rooms WHERE name = ?', ['lobby']],
    ['role of a member', 'SELECT role FROM memberships WHERE room_id = ? AND user_id = ?', [1, 'u']],
    ['ban', 'SELECT 1 AS one FROM bans WHERE room_id = ? AND user_id = ?', [1, 'u']],
    ['owner and moderators', "SELECT user_id, role FROM memberships WHERE room_id = ? AND role <> 'member'", [1]],
    ["a user's rooms", 'SELECT rooms.name, rooms.visibility, rooms.direct, memberships.role FROM memberships JOIN rooms ON rooms.id = memberships.room_id WHERE memberships.user_id = ?', ['u']],
    ['rooms created in the last hour', 'SELECT COUNT(*) AS count, MIN(created_at) AS oldest FROM rooms WHERE created_by = ? AND created_at > ?', ['u', 0]],
    ['rooms created in all', 'SELECT COUNT(*) AS count FROM rooms WHERE created_by = ?', ['u']],
    ['message to delete', 'SELECT seq, user_id, deleted FROM messages WHERE id = ? AND room_id = ?', ['m', 1]],
    ['account by name, any case (sign-in, registration, guest check)', "SELECT id, username, password_hash FROM users WHERE kind = 'account' AND username = ? COLLATE NOCASE", ['alice']],
    ['revoked tokens still valid (worker start)', 'SELECT token_key, expires_at FROM revoked_tokens WHERE expires_at >= ?', [0]],
    ['expired revocations (pruned on each revocation)', 'SELECT token_key FROM revoked_tokens WHERE expires_at < ?', [0]]
  ]
  for (const [label, sql, params] of queries) {
    const detail = plan(sql, ...params)
    t.notMatch(detail, /^SCAN|\| SCAN/, `${label}: no table scan (${detail})`)
    t.match(detail, /SEARCH .* USING (PRIMARY KEY|INDEX|COVERING INDEX)/, `${label}: an index search`)
    t.notMatch(detail, /TEMP B-TREE/, `${label}: no sort step`)
  }
})
