import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import type { RoomJoinOk } from '../src/protocol/events.js'
import { databasePath } from '../src/store/sqlite/database.js'
import { migrate, migrations } from '../src/store/sqlite/migrations.js'
import { startCluster } from './helpers/cluster.js'
import { clientMsgId, connect, request, signIn } from './helpers/client.js'

/**
 * Migration 3 on a store made before it: existing rooms become public rooms without an owner or
 * members, their messages stay as they were; whoever joins becomes a member, nobody moderates.
 */

t.test('a store from before rooms and moderation', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'chat-rooms-migration-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const db = new Database(databasePath(dir))
  db.pragma('journal_mode = WAL')
  t.same(migrate(db, migrations.filter((migration) => migration.version === 1)), [1])
  db.prepare('INSERT INTO users (id, username, created_at) VALUES (?, ?, ?)').run('old-user-id', 'olduser', 1)
  db.prepare('INSERT INTO rooms (name, last_seq, created_at) VALUES (?, ?, ?)').run('heritage', 2, 1)
  const insert = db.prepare('INSERT INTO messages (room_id, seq, id, user_id, username, text, ts, client_msg_id) VALUES (1, ?, ?, ?, ?, ?, ?, ?)')
  insert.run(1, 'm-1', 'old-user-id', 'olduser', 'first words', 10, 'cid-00000001')
  insert.run(2, 'm-2', 'old-user-id', 'olduser', 'second words', 20, 'cid-00000002')
  db.close()

  const cluster = await startCluster(t, { dataDir: dir })
  const check = new Database(databasePath(dir), { readonly: true })
  t.teardown(() => check.close())
  t.match(check.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all(),
    [{ version: 1 }, { version: 2 }, { version: 3, name: 'private rooms, memberships, bans, tombstones' }], 'migrations 2 and 3 applied')
  t.same(check.prepare('SELECT visibility, direct, created_by FROM rooms').all(), [{ visibility: 'public', direct: 0, created_by: null }], 'the room is public, made by no one')
  t.same(check.prepare('SELECT COUNT(*) AS count FROM memberships').get(), { count: 0 }, 'and has no members yet')

  const alice = await signIn(cluster.url, 'alice')
  const socket = await connect(t, cluster.url, alice.token)
  const joined = await request<RoomJoinOk>(socket, 'room:join', { room: 'heritage', since: 0 })
  t.match(joined, { ok: true, role: 'member', visibility: 'public', staff: [] }, 'a joiner becomes a member, not the owner')
  t.same(joined.ok && joined.missed.map((message) => [message.seq, message.text, message.deleted]), [[1, 'first words', undefined], [2, 'second words', undefined]],
    'old messages read as before')
  t.match(await request(socket, 'room:kick', { room: 'heritage', userId: 'old-user-id' }), { ok: false, error: { code: 'E_FORBIDDEN' } }, 'nobody moderates it')
  t.match(await request(socket, 'message:delete', { room: 'heritage', id: 'm-1' }), { ok: false, error: { code: 'E_FORBIDDEN' } }, "nor deletes another's message there")
  t.match(await request(socket, 'message:send', { room: 'heritage', text: 'third', clientMsgId: clientMsgId() }), { ok: true, seq: 3 })
  t.same(await request(socket, 'dm:open', { userId: 'old-user-id' }).then((ack) => ack.ok), true, 'users from before can be written to directly')
})
