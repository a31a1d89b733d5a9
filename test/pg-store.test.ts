import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net'
import pg from 'pg'
import { pino } from 'pino'
import t, { type Test } from 'tap'
import { freePort, startPostgres, type PostgresServer } from '../scripts/services.js'
import { migratePostgres, preparePostgres } from '../src/store/postgres/migrations.js'
import { storeTypes } from '../src/store/postgres/pg-pool.js'
import { PgReader } from '../src/store/postgres/pg-reader.js'
import { STORE_UNAVAILABLE } from '../src/store/store.js'
import { PgWriter, type PgWriterOptions } from '../src/store/postgres/pg-writer.js'
import type { Answer } from '../src/store/store.js'
import type { AppendOp, AppendResult, CommittedMessage, ResultOf, RevokeOp, WriteOp, WriteResult } from '../src/store/write-ops.js'

/**
 * The PostgreSQL store against a real private PostgreSQL (scripts/services.ts): migrations, every
 * write op with the SQLite store's results and refusals, two writers ("two VMs") appending to the
 * same rooms at once, backends terminated in the middle of a stream of batches, a connection cut
 * right after COMMIT was sent (the outcome unknown to the writer), and the server stopped.
 */

const HOUR = 3_600_000
const QUOTA = { perHour: 100, max: 100 }

let server: PostgresServer | undefined
t.before(async () => { server = await startPostgres() })
t.teardown(async () => { await server?.stop() })
const pgServer = (): PostgresServer => server as PostgresServer

let databases = 0
/** A new empty database on the server, migrated unless told otherwise; its URL. */
async function freshDatabase (migrate = true): Promise<string> {
  const name = `test_${++databases}`
  const admin = new pg.Client({ connectionString: pgServer().url.replace(/\/chat$/, '/postgres') })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE ${name}`)
  } finally {
    await admin.end()
  }
  const url = pgServer().url.replace(/\/chat$/, `/${name}`)
  if (migrate) await preparePostgres(url, { connectTimeoutMs: 5000 })
  return url
}

async function sql<R extends pg.QueryResultRow> (url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url, application_name: 'pg-store-test', types: storeTypes })
  await client.connect()
  try {
    return (await client.query<R>(text, values)).rows
  } finally {
    await client.end()
  }
}

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

async function eventually (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await sleep(20)
  }
}

interface Harness {
  writer: PgWriter
  /** Every message delivered, in delivery order. */
  delivered: CommittedMessage[]
  revoked: string[]
  /** Each transaction's outcome. */
  commits: boolean[]
  /** The order the hooks were heard in. */
  hooks: string[]
  request: (ops: WriteOp[]) => Promise<Answer>
  run: (ops: WriteOp[]) => Promise<WriteResult[]>
  one: <T extends WriteOp>(op: T) => Promise<ResultOf<T>>
}

/** A writer whose answers resolve promises. */
function harness (t: Test, url: string, options: Partial<PgWriterOptions> = {}): Harness {
  const waiting = new Map<number, (answer: Answer) => void>()
  const delivered: CommittedMessage[] = []
  const revoked: string[] = []
  const commits: boolean[] = []
  const hooks: string[] = []
  const writer = new PgWriter({
    url,
    maxBatch: 512,
    connectTimeoutMs: 2000,
    ...options,
    onCommit: (_ops, _ms, ok) => {
      commits.push(ok)
      hooks.push('commit')
    },
    onRevoked: (tokens) => {
      revoked.push(...tokens.map((token) => token.key))
      hooks.push('revoked')
    },
    deliver: (answers, messages) => {
      hooks.push('deliver')
      delivered.push(...messages)
      for (const answer of answers) {
        waiting.get(answer.requestId)?.(answer)
        waiting.delete(answer.requestId)
      }
    }
  })
  t.teardown(async () => { await writer.close() })
  let next = 0
  const request = async (ops: WriteOp[]): Promise<Answer> => await new Promise((resolve) => {
    const id = ++next
    waiting.set(id, resolve)
    writer.submit(7, id, ops)
  })
  const run = async (ops: WriteOp[]): Promise<WriteResult[]> => {
    const answer = await request(ops)
    if (answer.error !== undefined) throw new Error(answer.error)
    return answer.results as WriteResult[]
  }
  const one = async <T extends WriteOp>(op: T): Promise<ResultOf<T>> => (await run([op]))[0] as ResultOf<T>
  return { writer, delivered, revoked, commits, hooks, request, run, one }
}

const append = (roomId: number, room: string, userId: string, clientMsgId: string, text = clientMsgId): AppendOp =>
  ({ kind: 'append', roomId, room, userId, username: userId, text, clientMsgId })

t.test('migrations apply once; again, or from two VMs at once, they are a no-op', async (t) => {
  const url = await freshDatabase(false)
  t.same(await preparePostgres(url, { connectTimeoutMs: 5000 }), { applied: [1, 2] }, 'a new database gets every migration')
  t.same(await preparePostgres(url, { connectTimeoutMs: 5000 }), { applied: [] }, 'twice: nothing to apply')
  const tables = await sql<{ table_name: string }>(url, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name")
  t.same(tables.map((row) => row.table_name), ['bans', 'memberships', 'messages', 'revoked_tokens', 'rooms', 'schema_migrations', 'users', 'write_batches'])

  const racing = await freshDatabase(false)
  const pools = [new pg.Pool({ connectionString: racing }), new pg.Pool({ connectionString: racing }), new pg.Pool({ connectionString: racing })]
  t.teardown(async () => { for (const pool of pools) await pool.end() })
  const applied = await Promise.all(pools.map(async (pool) => await migratePostgres(pool)))
  t.same(applied.flat().sort(), [1, 2], 'three VMs starting at once: each migration applied exactly once')
  t.same((await sql<{ version: number }>(racing, 'SELECT version FROM schema_migrations ORDER BY version')).map((row) => row.version), [1, 2])
})

t.test('an unreachable database: one clear error without the password', async (t) => {
  const port = await freePort()
  const error = await preparePostgres(`postgres://chat:s3cret-pw@127.0.0.1:${port}/chat`, { connectTimeoutMs: 1000 }).then(() => undefined, (err: Error) => err)
  t.match(error?.message, new RegExp(`^PostgreSQL at 127\\.0\\.0\\.1:${port}/chat is unreachable: .*ECONNREFUSED`))
  t.notMatch(error?.message, /s3cret/, 'the password is not in the message')
})

t.test('every op kind: the SQLite store\'s results, refusals and rules', async (t) => {
  const url = await freshDatabase()
  const w = harness(t, url)
  const reader = new PgReader({ url, poolSize: 2, connectTimeoutMs: 2000 })
  t.teardown(() => reader.close())

  // Accounts and guests.
  const alice = await w.one({ kind: 'register', username: 'Alice', passwordHash: 'hash-a' })
  t.match(alice, { kind: 'register', conflict: false, username: 'Alice', userId: /^[0-9a-f-]{36}$/ })
  if (alice.conflict) return
  t.same(await w.one({ kind: 'register', username: 'aLICE', passwordHash: 'x' }), { kind: 'register', conflict: true }, 'a name taken in any case is a conflict')
  t.same(await w.one({ kind: 'guest', username: 'alice' }), { kind: 'guest', refused: true }, "a guest cannot take an account's name")
  const bob = await w.one({ kind: 'register', username: 'bob', passwordHash: 'hash-b' })
  const carol = await w.one({ kind: 'guest', username: 'carol' })
  const carol2 = await w.one({ kind: 'guest', username: 'carol' })
  const dave = await w.one({ kind: 'register', username: 'dave', passwordHash: 'hash-d' })
  if (bob.conflict || carol.refused || carol2.refused || dave.conflict) throw new Error('setup failed')
  t.not(carol.userId, carol2.userId, 'guests may share a name, each a new userId')
  t.same(await reader.findAccount('ALICE'), { userId: alice.userId, username: 'Alice', passwordHash: 'hash-a' }, 'accounts are found in any case')
  t.equal(await reader.findAccount('carol'), undefined, 'a guest is not an account')
  const sameBatch = await w.run([{ kind: 'register', username: 'erin', passwordHash: 'h' }, { kind: 'guest', username: 'ERIN' }, { kind: 'register', username: 'Erin', passwordHash: 'h' }])
  t.match(sameBatch, [{ conflict: false }, { refused: true }, { conflict: true }], 'ops of one batch see each other in order')

  // Revocations.
  const now = Date.now()
  w.hooks.length = 0
  const revokes: RevokeOp[] = [{ kind: 'revoke', key: 'old', expiresAtMs: now - 25 * HOUR }, { kind: 'revoke', key: 'live', expiresAtMs: now + HOUR }]
  t.same(await w.run(revokes), [{ kind: 'revoke' }, { kind: 'revoke' }])
  t.same(w.revoked, ['old', 'live'], 'onRevoked hears every revoked token')
  t.same(w.hooks, ['commit', 'revoked', 'deliver'], 'hooks in order: commit, revocations, answers')
  t.same(await reader.revokedTokens(now), [{ key: 'live', expiresAtMs: now + HOUR }], 'tokens expired over a day ago are pruned')
  t.same((await sql(url, "SELECT 1 FROM revoked_tokens WHERE token_key = 'old'")).length, 0)

  // Rooms.
  const lobby = await w.one({ kind: 'room-create', name: 'lobby', visibility: 'public', userId: alice.userId, quota: QUOTA })
  t.match(lobby, { kind: 'room-create', room: { visibility: 'public', direct: false }, role: 'owner' })
  const lobbyId = lobby.room?.id as number
  t.equal(typeof lobbyId, 'number', 'room ids are numbers')
  t.same(await w.one({ kind: 'room-create', name: 'lobby', visibility: 'private', userId: bob.userId, quota: QUOTA }),
    { kind: 'room-create', refusal: { code: 'E_CONFLICT', message: 'room lobby exists' } })
  const secret = await w.one({ kind: 'room-create', name: 'secret', visibility: 'private', userId: alice.userId, quota: QUOTA })
  const secretId = secret.room?.id as number
  t.match(await w.one({ kind: 'room-create', name: 'third', visibility: 'public', userId: alice.userId, quota: { perHour: 2, max: 10 } }),
    { kind: 'room-create', refusal: { code: 'E_RATE_LIMITED', message: 'a user may create at most 2 rooms an hour', retryAfterMs: Number } })
  t.same(await w.one({ kind: 'room-enter', name: 'third', userId: alice.userId, quota: { perHour: 100, max: 2 } }),
    { kind: 'room-enter', refusal: { code: 'E_FORBIDDEN', message: 'a user may create at most 2 rooms' } })

  t.same(await w.one({ kind: 'room-enter', name: 'lobby', userId: bob.userId, quota: QUOTA }),
    { kind: 'room-enter', room: { id: lobbyId, visibility: 'public', direct: false }, role: 'member' }, 'entering a public room makes a member')
  t.same(await w.one({ kind: 'room-enter', name: 'lobby', userId: alice.userId, quota: QUOTA }),
    { kind: 'room-enter', room: { id: lobbyId, visibility: 'public', direct: false }, role: 'owner' }, 'a member keeps their role')
  t.same(await w.one({ kind: 'room-enter', name: 'secret', userId: bob.userId, quota: QUOTA }),
    { kind: 'room-enter', room: { id: secretId, visibility: 'private', direct: false }, refusal: { code: 'E_FORBIDDEN', message: 'room secret is not open to you' } })
  t.match(await w.one({ kind: 'room-enter', name: 'fresh', userId: bob.userId, quota: QUOTA }),
    { kind: 'room-enter', room: { visibility: 'public', direct: false }, role: 'owner' }, 'entering a missing room creates it')

  // Moderation.
  const mod = (action: 'invite' | 'kick' | 'ban' | 'unban' | 'role', roomId: number, actorId: string, userId: string, role?: 'moderator' | 'member'): WriteOp =>
    role === undefined ? { kind: 'moderate', action, roomId, actorId, userId } : { kind: 'moderate', action, roomId, actorId, userId, role }
  await w.one({ kind: 'room-enter', name: 'lobby', userId: carol.userId, quota: QUOTA })
  await w.one({ kind: 'room-enter', name: 'lobby', userId: dave.userId, quota: QUOTA })
  t.same(await w.one(mod('kick', lobbyId, bob.userId, carol.userId)), { kind: 'moderate', changed: false, refusal: { code: 'E_FORBIDDEN', message: 'kick needs the moderator role' } })
  t.same(await w.one(mod('kick', lobbyId, carol2.userId, carol.userId)), { kind: 'moderate', changed: false, refusal: { code: 'E_FORBIDDEN', message: 'not allowed in this room' } })
  t.same(await w.one(mod('kick', 99_999, alice.userId, carol.userId)), { kind: 'moderate', changed: false, refusal: { code: 'E_FORBIDDEN', message: 'not allowed in this room' } })
  t.same(await w.one(mod('role', lobbyId, alice.userId, bob.userId, 'moderator')), { kind: 'moderate', changed: true })
  t.same(await w.one(mod('role', lobbyId, alice.userId, bob.userId, 'moderator')), { kind: 'moderate', changed: false }, 'the same role again changes nothing')
  t.same(await w.one(mod('role', lobbyId, alice.userId, dave.userId, 'moderator')), { kind: 'moderate', changed: true })
  t.same(await w.one(mod('role', lobbyId, bob.userId, carol.userId, 'moderator')), { kind: 'moderate', changed: false, refusal: { code: 'E_FORBIDDEN', message: 'role needs the owner role' } })
  t.same(await w.one(mod('role', lobbyId, alice.userId, alice.userId, 'member')), { kind: 'moderate', changed: false, refusal: { code: 'E_FORBIDDEN', message: 'nobody can change the role of the owner' } })
  t.same(await w.one(mod('role', lobbyId, alice.userId, carol2.userId, 'moderator')), { kind: 'moderate', changed: false, refusal: { code: 'E_VALIDATION', message: 'that user is not a member of the room' } })
  t.same(await w.one(mod('kick', lobbyId, bob.userId, dave.userId)), { kind: 'moderate', changed: false, refusal: { code: 'E_FORBIDDEN', message: 'only the owner can kick a moderator' } })
  t.same(await w.one(mod('ban', lobbyId, bob.userId, alice.userId)), { kind: 'moderate', changed: false, refusal: { code: 'E_FORBIDDEN', message: 'nobody can ban the owner' } })
  t.same(await w.one(mod('ban', lobbyId, bob.userId, 'nobody')), { kind: 'moderate', changed: false, refusal: { code: 'E_VALIDATION', message: 'unknown userId' } })
  t.same(await w.one(mod('ban', lobbyId, bob.userId, carol.userId)), { kind: 'moderate', changed: true }, 'a moderator bans a member')
  t.same(await w.one(mod('ban', lobbyId, bob.userId, carol.userId)), { kind: 'moderate', changed: false }, 'a second ban changes nothing')
  t.equal(await reader.banned(lobbyId, carol.userId), true)
  t.equal(await reader.role(lobbyId, carol.userId), undefined, 'a ban removes the membership')
  t.same(await w.one({ kind: 'room-enter', name: 'lobby', userId: carol.userId, quota: QUOTA }),
    { kind: 'room-enter', room: { id: lobbyId, visibility: 'public', direct: false }, refusal: { code: 'E_FORBIDDEN', message: 'room lobby is not open to you' } }, 'a banned user cannot enter')
  t.same(await w.one(mod('invite', lobbyId, alice.userId, carol.userId)), { kind: 'moderate', changed: false, refusal: { code: 'E_FORBIDDEN', message: 'that user is banned from the room; unban first' } })
  t.same(await w.one(mod('unban', lobbyId, bob.userId, carol.userId)), { kind: 'moderate', changed: true })
  t.same(await w.one(mod('unban', lobbyId, bob.userId, carol.userId)), { kind: 'moderate', changed: false })
  t.same(await w.one(mod('invite', secretId, alice.userId, 'nobody')), { kind: 'moderate', changed: false, refusal: { code: 'E_VALIDATION', message: 'unknown userId' } })
  t.same(await w.one(mod('invite', secretId, alice.userId, bob.userId)), { kind: 'moderate', changed: true })
  t.same(await w.one(mod('invite', secretId, alice.userId, bob.userId)), { kind: 'moderate', changed: false }, 'inviting a member changes nothing')
  t.same(await w.one(mod('kick', lobbyId, alice.userId, carol2.userId)), { kind: 'moderate', changed: false }, 'kicking a non-member changes nothing')
  t.same(await w.one(mod('kick', lobbyId, alice.userId, dave.userId)), { kind: 'moderate', changed: true }, 'the owner kicks a moderator')
  const staff = await reader.staff(lobbyId)
  t.same(staff.sort((a, b) => a.role.localeCompare(b.role)), [{ userId: bob.userId, role: 'moderator' }, { userId: alice.userId, role: 'owner' }], 'the owner and moderators')
  t.same(await reader.memberships(bob.userId), [
    { room: 'fresh', visibility: 'public', role: 'owner', direct: false },
    { room: 'lobby', visibility: 'public', role: 'moderator', direct: false },
    { room: 'secret', visibility: 'private', role: 'member', direct: false }
  ], "a user's rooms, by name")

  // Direct messages.
  const dm = await w.one({ kind: 'dm-open', name: 'dm-alice-bob', userId: alice.userId, otherUserId: bob.userId })
  t.match(dm, { kind: 'dm-open', room: { visibility: 'private', direct: true } })
  t.same(await w.one({ kind: 'dm-open', name: 'dm-alice-bob', userId: bob.userId, otherUserId: alice.userId }), dm, 'opening it again: the same room')
  t.same(await w.one({ kind: 'dm-open', name: 'dm-x', userId: alice.userId, otherUserId: 'nobody' }), { kind: 'dm-open', refusal: { code: 'E_VALIDATION', message: 'unknown userId' } })
  t.same(await w.one({ kind: 'dm-open', name: 'lobby', userId: alice.userId, otherUserId: bob.userId }),
    { kind: 'dm-open', refusal: { code: 'E_CONFLICT', message: 'room lobby exists and is not a direct-message room' } })
  t.same(await reader.roomInfo('dm-alice-bob'), { id: dm.room?.id, name: 'dm-alice-bob', visibility: 'private', direct: true })
  t.equal(await reader.role(dm.room?.id as number, bob.userId), 'member')

  // Appends, resends, tombstones.
  w.delivered.length = 0
  const sent = await w.run([append(lobbyId, 'lobby', alice.userId, 'c-1', 'one'), append(lobbyId, 'lobby', bob.userId, 'c-1', 'two'), append(lobbyId, 'lobby', alice.userId, 'c-3', 'three')])
  t.match(sent, [{ seq: 1, duplicate: false }, { seq: 2, duplicate: false }, { seq: 3, duplicate: false }], 'seq from 1; another user may reuse a clientMsgId')
  const first = sent[0] as AppendResult
  t.match(first.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'ids are UUIDv7')
  t.same(await w.one(append(lobbyId, 'lobby', alice.userId, 'c-1', 'one again')), { ...first, duplicate: true }, 'a resend answers the first id, seq and ts')
  const twice = await w.run([append(lobbyId, 'lobby', alice.userId, 'c-4', 'four'), append(lobbyId, 'lobby', alice.userId, 'c-4', 'four again')])
  t.same(twice[1], { ...twice[0], duplicate: true }, 'a key twice in one batch: the second is a resend')
  t.same(w.delivered.map(([roomId, message]) => [roomId, message.seq, message.text]), [[lobbyId, 1, 'one'], [lobbyId, 2, 'two'], [lobbyId, 3, 'three'], [lobbyId, 4, 'four']], 'only new messages are delivered, in seq order')
  t.equal(await reader.lastSeq(lobbyId), 4)
  t.same(await reader.lastSeqs([lobbyId, secretId, 12345]), new Map([[lobbyId, 4], [secretId, 0]]))
  const missing = await w.request([append(424242, 'nowhere', alice.userId, 'c-x')])
  t.same([missing.error, missing.results], ['room 424242 does not exist', undefined], 'an append to a missing room fails its batch at once')

  const deleteOp = (id: string, actorId: string): WriteOp => ({ kind: 'message-delete', roomId: lobbyId, id, actorId })
  t.same(await w.one(deleteOp(first.id, carol.userId)), { kind: 'message-delete', changed: false, refusal: { code: 'E_FORBIDDEN', message: "only the owner or a moderator may delete another user's message" } })
  t.same(await w.one(deleteOp('no-such-id', alice.userId)), { kind: 'message-delete', changed: false, refusal: { code: 'E_NOT_FOUND', message: 'no such message in this room' } })
  t.same(await w.one(deleteOp(first.id, bob.userId)), { kind: 'message-delete', seq: 1, changed: true }, 'a moderator deletes a message')
  t.same(await w.one(deleteOp(first.id, alice.userId)), { kind: 'message-delete', seq: 1, changed: false }, 'deleting again changes nothing')
  t.same(await w.one(deleteOp((sent[2] as AppendResult).id, alice.userId)), { kind: 'message-delete', seq: 3, changed: true }, 'an author deletes their own')
  const room = { id: lobbyId, name: 'lobby' }
  const after = await reader.after(room, 0, undefined, 10)
  t.equal(after.hasMore, false)
  t.same(after.messages[0], { id: first.id, room: 'lobby', seq: 1, userId: alice.userId, username: alice.userId, text: '', ts: first.ts, clientMsgId: 'c-1', deleted: true }, 'a tombstone: empty text, deleted')
  t.same(after.messages.map((m) => [m.seq, m.text, m.deleted ?? false]), [[1, '', true], [2, 'two', false], [3, '', true], [4, 'four', false]])
  const newest = await reader.before(room, undefined, 2)
  t.same([newest.messages.map((m) => m.seq), newest.hasMore], [[3, 4], true], 'the newest page, oldest first, more before it')
  const older = await reader.before(room, 3, 5)
  t.same([older.messages.map((m) => [m.seq, m.deleted ?? false]), older.hasMore], [[[1, true], [2, false]], false])
  const middle = await reader.after(room, 1, 4, 1)
  t.same([middle.messages.map((m) => m.seq), middle.hasMore], [[2], true], 'after … before, limited')

  t.same(w.commits.filter((ok) => !ok).length, 1, 'only the batch with a missing room failed')
})

t.test('two writers (two VMs) appending to the same rooms at once: gapless seq, each message once', async (t) => {
  const url = await freshDatabase()
  const vms = [harness(t, url, { maxBatch: 16 }), harness(t, url, { maxBatch: 16 })] as const
  const rooms: Array<{ id: number, name: string }> = []
  for (let r = 0; r < 5; r++) {
    const created = await vms[0].one({ kind: 'room-create', name: `room-${r}`, visibility: 'public', userId: 'owner', quota: { perHour: 10, max: 10 } })
    rooms.push({ id: created.room?.id as number, name: `room-${r}` })
  }
  const sends: Array<{ op: AppendOp, answer: Promise<Answer> }> = []
  for (let i = 0; i < 2000; i++) {
    const room = rooms[i % 5] as { id: number, name: string }
    const op = append(room.id, room.name, `user-${i % 7}`, `msg-${i}`)
    sends.push({ op, answer: (vms[i % 2] as Harness).request([op]) })
    // Every 50th message is sent through the other VM at the same time as well (a resend racing).
    if (i % 50 === 0) sends.push({ op, answer: (vms[(i + 1) % 2] as Harness).request([op]) })
    if (i % 100 === 99) await sleep(1)
  }
  const answers = await Promise.all(sends.map(async (send) => await send.answer))
  t.same(answers.filter((answer) => answer.error !== undefined), [], 'every append committed')
  const results = answers.map((answer) => (answer.results as WriteResult[])[0] as AppendResult)

  const rows = await sql<{ room_id: number, seq: number, id: string, client_msg_id: string }>(url, 'SELECT room_id, seq, id, client_msg_id FROM messages ORDER BY room_id, seq')
  t.equal(rows.length, 2000, 'each message stored once')
  for (const room of rooms) {
    const seqs = rows.filter((row) => row.room_id === room.id).map((row) => row.seq)
    t.same(seqs, Array.from({ length: 400 }, (_, k) => k + 1), `${room.name}: seq 1..400 without gaps`)
  }
  const byKey = new Map(rows.map((row) => [`${row.room_id}/${row.client_msg_id}`, row]))
  const mismatched = sends.filter((send, k) => {
    const row = byKey.get(`${send.op.roomId}/${send.op.clientMsgId}`)
    const result = results[k] as AppendResult
    return row === undefined || row.id !== result.id || row.seq !== result.seq
  })
  t.equal(mismatched.length, 0, 'every answer names the stored row')
  const duplicates = results.filter((result) => result.duplicate).length
  t.equal(duplicates, 40, 'of each racing pair exactly one is the resend')
  const delivered = [...vms[0].delivered, ...vms[1].delivered].map(([roomId, message]) => `${roomId}/${message.seq}`)
  t.equal(delivered.length, 2000, 'each new message delivered once, by the VM that stored it')
  t.equal(new Set(delivered).size, 2000)
  for (const vm of vms) {
    const perRoom = new Map<number, number>()
    const ordered = vm.delivered.every(([roomId, message]) => {
      const ok = message.seq > (perRoom.get(roomId) ?? 0)
      perRoom.set(roomId, message.seq)
      return ok
    })
    t.ok(ordered, 'each VM delivers every room in seq order')
  }
  const lastSeqs = await sql<{ last_seq: number }>(url, 'SELECT last_seq FROM rooms ORDER BY id')
  t.same(lastSeqs.map((row) => row.last_seq), [400, 400, 400, 400, 400])

  const firstOp = sends[0]?.op as AppendOp
  const again = await vms[1].one(firstOp)
  t.same(again, { ...(results[0] as AppendResult), duplicate: true }, 'a resend through the other VM: the first id, seq and ts')

  // close() commits what is queued, then refuses.
  const queued = vms[0].request([append((rooms[0] as { id: number }).id, 'room-0', 'late', 'late-1')])
  await vms[0].writer.close()
  t.match((await queued).results, [{ seq: 401, duplicate: false }], 'close commits what was queued')
  t.same((await vms[0].request([append(1, 'room-0', 'late', 'late-2')])).error, 'store is closing')
  await vms[0].writer.close()
})

t.test('backends terminated during a stream of batches: every request answered, each message stored once', async (t) => {
  const url = await freshDatabase()
  const logs: Array<{ msg: string }> = []
  const logger = pino({ level: 'debug' }, { write: (line: string) => { logs.push(JSON.parse(line) as { msg: string }) } })
  const w = harness(t, url, { maxBatch: 20, retryDeadlineMs: 10_000, logger })
  const rooms: Array<{ id: number, name: string }> = []
  for (let r = 0; r < 3; r++) {
    const created = await w.one({ kind: 'room-create', name: `t-${r}`, visibility: 'public', userId: 'owner', quota: { perHour: 10, max: 10 } })
    rooms.push({ id: created.room?.id as number, name: `t-${r}` })
  }
  const sends: Array<{ ops: WriteOp[], answer: Promise<Answer> }> = []
  let terminated = 0
  const terminations: Array<Promise<void>> = []
  let n = 0
  for (let wave = 0; wave < 60; wave++) {
    for (let k = 0; k < 8; k++) {
      const ops: WriteOp[] = [0, 1].map(() => {
        const room = rooms[n % 3] as { id: number, name: string }
        return append(room.id, room.name, `u-${n % 4}`, `s-${n++}`)
      })
      // Some batches do more than append: their results are kept for a rerun.
      if (k === 0 && wave % 3 === 0) ops.push({ kind: 'register', username: `user${wave}`, passwordHash: 'h' })
      sends.push({ ops, answer: w.request(ops) })
    }
    if (wave % 12 === 6) terminations.push(pgServer().terminateService().then((count) => { terminated += count }))
    await sleep(3)
  }
  await Promise.all(terminations)
  const answers = await Promise.all(sends.map(async (send) => await send.answer))
  t.ok(terminated >= 1, `the writer's backend was terminated (${terminated} times)`)
  const count = (msg: string): number => logs.filter((line) => line.msg === msg).length
  t.ok(count('store connection lost') >= 1, `the writer saw its connection lost (${count('store connection lost')} times; ${count('store transaction failed; retrying')} batches retried)`)
  const failed = answers.filter((answer) => answer.error !== undefined)
  t.same(failed.filter((answer) => !(answer.error as string).startsWith(STORE_UNAVAILABLE)), [], 'a request that failed says store unavailable')
  t.ok(answers.length - failed.length > 0, `${answers.length - failed.length} of ${answers.length} requests committed`)

  const rows = await sql<{ room_id: number, seq: number, id: string, user_id: string, client_msg_id: string }>(url, 'SELECT room_id, seq, id, user_id, client_msg_id FROM messages ORDER BY room_id, seq')
  const byKey = new Map<string, typeof rows>()
  for (const row of rows) byKey.set(`${row.room_id}/${row.user_id}/${row.client_msg_id}`, [...(byKey.get(`${row.room_id}/${row.user_id}/${row.client_msg_id}`) ?? []), row])
  let checked = 0
  const wrong: string[] = []
  const users = await sql<{ id: string, username: string }>(url, 'SELECT id, username FROM users')
  sends.forEach((send, k) => {
    const answer = answers[k] as Answer
    send.ops.forEach((op, i) => {
      if (op.kind === 'append') {
        const stored = byKey.get(`${op.roomId}/${op.userId}/${op.clientMsgId}`) ?? []
        if (stored.length > 1) wrong.push(`${op.clientMsgId} stored ${stored.length} times`)
        if (answer.results === undefined) return
        const result = answer.results[i] as AppendResult
        if (stored.length !== 1 || stored[0]?.id !== result.id || stored[0]?.seq !== result.seq || result.duplicate) wrong.push(`${op.clientMsgId} answered ${JSON.stringify(result)}, stored ${JSON.stringify(stored)}`)
        checked++
      } else if (op.kind === 'register' && answer.results !== undefined) {
        const result = answer.results[i] as ResultOf<typeof op>
        const named = users.filter((user) => user.username === op.username)
        if (result.conflict || named.length !== 1 || named[0]?.id !== result.userId) wrong.push(`${op.username} answered ${JSON.stringify(result)}, stored ${JSON.stringify(named)}`)
      }
    })
  })
  t.same(wrong, [], `each of the ${checked} answered appends is exactly one row with its id and seq, each answered registration one account`)
  for (const room of rooms) {
    const seqs = rows.filter((row) => row.room_id === room.id).map((row) => row.seq)
    t.same(seqs, Array.from({ length: seqs.length }, (_, k) => k + 1), `${room.name}: seq without gaps (${seqs.length})`)
  }
  const delivered = new Set(w.delivered.map(([roomId, message]) => `${roomId}/${message.seq}`))
  const answeredSeqs = answers.flatMap((answer, k) => answer.results === undefined
    ? []
    : (sends[k] as { ops: WriteOp[] }).ops.flatMap((op, i) => op.kind === 'append' ? [`${op.roomId}/${(answer.results?.[i] as AppendResult).seq}`] : []))
  t.same(answeredSeqs.filter((key) => !delivered.has(key)), [], 'every answered message was delivered')
  t.equal(w.writer.available(), true, 'available again')
})

t.test('two VMs racing for the same names and quotas: the rules hold as if one came after the other', async (t) => {
  const url = await freshDatabase()
  const vms = [harness(t, url), harness(t, url)] as const
  const both = async <T extends WriteOp>(op: T): Promise<Array<ResultOf<T>>> => await Promise.all(vms.map(async (vm) => await vm.one(op)))
  const owner = await vms[0].one({ kind: 'register', username: 'owner', passwordHash: 'h' })
  if (owner.conflict) throw new Error('setup failed')
  for (let round = 0; round < 10; round++) {
    const registered = await Promise.all([
      vms[0].one({ kind: 'register', username: `Name${round}`, passwordHash: 'h' }),
      vms[1].one({ kind: 'register', username: `name${round}`, passwordHash: 'h' })
    ])
    t.same(registered.filter((result) => !result.conflict).length, 1, `round ${round}: one account of two names differing in case`)
    const created = await both({ kind: 'room-create', name: `made-${round}`, visibility: 'public', userId: `u${round}`, quota: QUOTA })
    t.same(created.filter((result) => result.refusal?.code === 'E_CONFLICT').length, 1, `round ${round}: one room-create wins, the other is a conflict`)
    const entered = await Promise.all([
      vms[0].one({ kind: 'room-enter', name: `entered-${round}`, userId: `a${round}`, quota: QUOTA }),
      vms[1].one({ kind: 'room-enter', name: `entered-${round}`, userId: `b${round}`, quota: QUOTA })
    ])
    t.same([entered[0].room?.id === entered[1].room?.id, entered.map((result) => result.role).sort()], [true, ['member', 'owner']], `round ${round}: entering a new room from two VMs: one owner, one member`)
    const opened = await both({ kind: 'dm-open', name: `dm-${round}`, userId: owner.userId, otherUserId: owner.userId })
    t.same(opened[0], opened[1], `round ${round}: a direct room opened from two VMs is one room`)
  }
  const quota = { perHour: 100, max: 3 }
  const results = await Promise.all(Array.from({ length: 8 }, async (_, k) =>
    await (vms[k % 2] as Harness).one({ kind: 'room-create', name: `quota-${k}`, visibility: 'public', userId: 'busy', quota })))
  t.equal(results.filter((result) => result.room !== undefined).length, 3, 'a quota of 3 rooms holds across VMs')
  t.same((await sql<{ count: number }>(url, "SELECT count(*) AS count FROM rooms WHERE created_by = 'busy'"))[0]?.count, 3)
})

/**
 * A TCP proxy to the server that, while armed, passes a COMMIT on and then cuts the client's
 * side before the answer comes back: the server commits, the writer cannot know it did.
 */
async function commitCutter (t: Test, targetPort: number): Promise<{ port: number, arm: (count: number) => void, cuts: () => number }> {
  let armed = 0
  let cuts = 0
  const COMMIT = Buffer.from('COMMIT\0')
  const sockets = new Set<Socket>()
  const proxy: Server = createServer((client) => {
    const upstream = tcpConnect(targetPort, '127.0.0.1')
    sockets.add(client).add(upstream)
    let cut = false
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk)
      if (armed > 0 && chunk.includes(COMMIT)) {
        armed--
        cuts++
        cut = true
        client.destroy()
        // Leave the server's side open until it has surely committed.
        setTimeout(() => upstream.destroy(), 300)
      }
    })
    upstream.on('data', (chunk: Buffer) => { if (!cut) client.write(chunk) })
    client.on('close', () => { if (!cut) upstream.destroy() })
    upstream.on('close', () => client.destroy())
    client.on('error', () => {})
    upstream.on('error', () => {})
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => proxy.close(resolve))
  })
  const address = proxy.address()
  return { port: typeof address === 'object' && address !== null ? address.port : 0, arm: (count) => { armed = count }, cuts: () => cuts }
}

t.test('a connection cut after COMMIT was sent: the rerun answers what committed, stores nothing twice', async (t) => {
  const url = await freshDatabase()
  const cutter = await commitCutter(t, pgServer().port)
  const proxied = url.replace(`:${pgServer().port}/`, `:${cutter.port}/`)
  const w = harness(t, proxied, { retryDeadlineMs: 10_000 })
  const room = await w.one({ kind: 'room-create', name: 'cut', visibility: 'public', userId: 'owner', quota: QUOTA })
  const roomId = room.room?.id as number
  const earlier = await w.one(append(roomId, 'cut', 'u1', 'earlier'))
  w.delivered.length = 0

  cutter.arm(1)
  const appends = await w.run([append(roomId, 'cut', 'u1', 'a-1'), append(roomId, 'cut', 'u1', 'earlier'), append(roomId, 'cut', 'u2', 'a-2')])
  t.equal(cutter.cuts(), 1, 'the COMMIT answer was lost')
  t.same(appends.map((result) => (result as AppendResult).duplicate), [false, true, false], 'its own messages are new, the real resend a resend')
  t.same(appends[1], { ...earlier, duplicate: true })
  t.same(appends.map((result) => (result as AppendResult).seq), [2, 1, 3])
  t.same(w.delivered.map(([, message]) => message.seq), [1, 2, 3], 'every append of the uncertain batch is delivered, in seq order')
  t.same((await sql<{ seq: number }>(url, 'SELECT seq FROM messages ORDER BY seq')).map((row) => row.seq), [1, 2, 3], 'stored once each')

  cutter.arm(1)
  const mixed = await w.run([{ kind: 'register', username: 'Zoe', passwordHash: 'h' }, append(roomId, 'cut', 'u1', 'a-3'), { kind: 'room-create', name: 'zoes', visibility: 'private', userId: 'zoe', quota: QUOTA }])
  t.equal(cutter.cuts(), 2)
  t.match(mixed, [{ kind: 'register', conflict: false, username: 'Zoe' }, { seq: 4, duplicate: false }, { kind: 'room-create', role: 'owner' }],
    'the stored results of the committed attempt, not a conflict with itself')
  const zoe = await sql<{ id: string }>(url, "SELECT id FROM users WHERE username = 'Zoe'")
  t.same(zoe.map((row) => row.id), [(mixed[0] as { userId: string }).userId], 'one account, the one answered')
  t.equal((await sql(url, "SELECT 1 FROM rooms WHERE name = 'zoes'")).length, 1)
  t.equal((await sql(url, 'SELECT 1 FROM write_batches')).length >= 1, true, 'batches that do more than append keep their results')
})

t.test('an idle connection ended by the server: nothing crashes, reads and writes go on', async (t) => {
  const url = await freshDatabase()
  const w = harness(t, url)
  const reader = new PgReader({ url, poolSize: 2, connectTimeoutMs: 2000 })
  t.teardown(() => reader.close())
  const room = await w.one({ kind: 'room-create', name: 'idle', visibility: 'public', userId: 'owner', quota: QUOTA })
  const roomId = room.room?.id as number
  await w.one(append(roomId, 'idle', 'u', 'before'))
  t.equal(await reader.lastSeq(roomId), 1)
  t.ok(await pgServer().terminateService() >= 2, 'the writer\'s and the reader\'s connections ended')
  await sleep(200)
  t.match(reader.stats(), { waiting: 0 })
  t.equal(await reader.lastSeq(roomId), 1, 'the reader reconnects')
  await eventually('the writer available', () => w.writer.available())
  t.match(await w.one(append(roomId, 'idle', 'u', 'after')), { seq: 2, duplicate: false }, 'the writer reconnects')
})

t.test('PostgreSQL stopped: store unavailable within the deadline, available() false, and back when it returns', async (t) => {
  const url = await freshDatabase()
  const w = harness(t, url, { retryDeadlineMs: 1500, connectTimeoutMs: 500 })
  const room = await w.one({ kind: 'room-create', name: 'down', visibility: 'public', userId: 'owner', quota: QUOTA })
  const roomId = room.room?.id as number
  await pgServer().stopServer()
  try {
    const started = Date.now()
    const answer = await w.request([append(roomId, 'down', 'u', 'while-down')])
    const elapsed = Date.now() - started
    t.match(answer.error, /^store unavailable: /, `answered ${JSON.stringify(answer.error)}`)
    t.ok(elapsed >= 1400 && elapsed < 4000, `after the retry deadline (${elapsed} ms)`)
    t.equal(w.writer.available(), false, 'not available')
    t.same(w.commits.at(-1), false, 'onCommit heard the failure')
  } finally {
    await pgServer().startServer()
  }
  await eventually('the writer available again', () => w.writer.available())
  t.match(await w.one(append(roomId, 'down', 'u', 'after')), { seq: 1, duplicate: false }, 'writes go on')
})
