import { randomUUID } from 'node:crypto'
import { uuidv7 } from '../message-ids.js'
import pg from 'pg'
import type { Logger } from 'pino'
import { answersFor, failedAnswers, GroupCommit, type WriteRequest } from '../group-commit.js'
import { committedMessage, STORE_UNAVAILABLE, type StoreWriter, type WriterHooks } from '../store.js'
import type {
  AppendOp,
  AppendResult,
  CommittedMessage,
  WriteOp,
  WriteResult
} from '../write-ops.js'
import { connectionConfig, describeDatabase, reasonOf } from './pg-pool.js'
import { createRoomWrites, type Query } from './pg-room-writes.js'

/**
 * A VM's one writer to PostgreSQL, where several VMs (each with a writer of its own) share the
 * database. It batches like the SQLite writer (sqlite-writer.ts): requests that arrive while a
 * transaction is in flight, or in the same event-loop turn, go into the next one together, whole
 * requests up to maxBatch ops, over one dedicated connection that is reopened when it breaks.
 *
 * Each batch is one READ COMMITTED transaction:
 * 1. One statement locks every room the batch appends to (or moderates, deletes in, or enters or
 *    opens by name), `ORDER BY id FOR UPDATE`: every writer takes room locks in the same order,
 *    so two VMs never deadlock on them, and while a room is locked no other VM appends to it.
 *    Rules that hang on a user or a name rather than a room (creation quotas, an account's name)
 *    take transaction-level advisory locks next, in sorted order.
 * 2. Under the room locks, one query finds which appends are resends: a stored (room, user,
 *    clientMsgId) answers its first id, seq and ts with `duplicate: true`, and so does a key
 *    repeated within the batch. New messages get last_seq + 1, + 2 … of their room (read under
 *    the lock: gapless, never a SEQUENCE) and go in with one multi-row INSERT; each room's
 *    last_seq is written back once.
 * 3. The other ops follow, in order, with the SQLite store thread's rules (workers/room-writes.ts
 *    and workers/store-writer.ts; the same checks, refusals and messages, below). Where another VM
 *    may create the same room name or account name at the same moment, the INSERT is
 *    ON CONFLICT DO NOTHING and the op reads what the other VM committed, as if it came second.
 *
 * A broken connection or a retryable failure (deadlock, serialization, the server shutting
 * down) reruns the same batch on a new connection, waiting 50 ms doubling to 1 s, until
 * retryDeadlineMs after the batch started; then every request of it is answered
 * `store unavailable: …`. Each batch keeps its ts and its message ids across attempts, so when
 * a connection died during COMMIT the rerun tells its own earlier insert (same id: answered as
 * new, `duplicate: false`) from a real resend (another id). A batch that does more than append
 * also stores its results in write_batches in the same transaction; a rerun first takes the
 * batch's advisory lock (so an earlier attempt still running on a dead connection finishes
 * first), then answers the stored results if that attempt committed, instead of redoing a
 * registration or a room creation. After a connection broke mid-batch, every append of the batch
 * is delivered (a receiver drops a seq it already has; a message never delivered would be missed).
 *
 * After a commit the hooks hear, in order: onCommit, onRevoked (when the batch revoked tokens),
 * deliver (answers, then new messages in seq order per room).
 */


const RETRY_FIRST_MS = 50
const RETRY_MAX_MS = 1000
/** How long to keep a committed batch's results for reruns. */
const BATCH_RESULTS_TTL_MS = 3_600_000
const PRUNE_EVERY_MS = 600_000
const REVOCATION_KEEP_MS = 24 * 3_600_000
/** A session left idle inside a transaction (its client gone silent) is ended after this, releasing its room locks. */
const IDLE_IN_TRANSACTION_MS = 10_000

export interface PgWriterOptions extends WriterHooks {
  url: string
  maxBatch: number
  connectTimeoutMs: number
  /** How long a batch is retried (reconnecting) before its requests are answered `store unavailable` (default 5000). */
  retryDeadlineMs?: number
  logger?: Logger
}

/** One batch as every attempt commits it: the same ops, ts and message ids. */
interface Batch {
  id: string
  ops: WriteOp[]
  ts: number
  /** A UUIDv7 per append, by op index. */
  messageIds: Array<string | undefined>
  /** Whether its results go to write_batches (it does more than append). */
  recorded: boolean
}

interface Outcome {
  results: WriteResult[]
  /** Whether an attempt broke off with its commit outcome unknown. */
  uncertain: boolean
}

const SQL = {
  lockRooms: 'SELECT id, name, last_seq FROM rooms WHERE id = ANY($1::int[]) ORDER BY id FOR UPDATE',
  lockRoomsAndNames: 'SELECT id, name, last_seq FROM rooms WHERE id = ANY($1::int[]) OR name = ANY($2::text[]) ORDER BY id FOR UPDATE',
  lockKeys: 'SELECT count(pg_advisory_xact_lock(hashtextextended(key, 0))) FROM unnest($1::text[]) AS key',
  findMessages: 'SELECT m.room_id, m.user_id, m.client_msg_id, m.id, m.seq, m.ts FROM messages m ' +
    'JOIN unnest($1::int[], $2::text[], $3::text[]) AS k (room_id, user_id, client_msg_id) ' +
    'ON m.room_id = k.room_id AND m.user_id = k.user_id AND m.client_msg_id = k.client_msg_id',
  insertMessages: 'INSERT INTO messages (room_id, seq, id, user_id, username, text, ts, client_msg_id) ' +
    'SELECT room_id, seq, id, user_id, username, text, $7, client_msg_id ' +
    'FROM unnest($1::int[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $8::text[]) ' +
    'AS m (room_id, seq, id, user_id, username, text, client_msg_id)',
  setLastSeqs: 'UPDATE rooms SET last_seq = s.last_seq FROM unnest($1::int[], $2::bigint[]) AS s (id, last_seq) WHERE rooms.id = s.id',
  batchResults: 'SELECT results FROM write_batches WHERE id = $1',
  recordBatch: 'INSERT INTO write_batches (id, results, at) VALUES ($1, $2, $3)',
  pruneBatches: 'DELETE FROM write_batches WHERE at < $1'
} as const

const RETRYABLE_STATES = new Set([
  '40P01', // deadlock detected
  '40001', // serialization failure
  '55P03', // lock not available
  '53300', // too many connections
  '57P01', // admin shutdown (pg_terminate_backend, a fast shutdown)
  '57P02', // crash shutdown
  '57P03' // cannot connect now (starting up, shutting down)
])
const RETRYABLE_ERRNOS = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'])
const CONNECTION_MESSAGE = /Connection terminated|not queryable|timeout expired|Query read timeout|connection timeout/i

/** Whether rerunning the batch may succeed: the connection or the server failed, not the batch. */
export function isRetryable (error: unknown): boolean {
  if (error instanceof AggregateError && error.errors.some(isRetryable)) return true
  const code = (error as { code?: unknown } | undefined)?.code
  if (typeof code === 'string' && (RETRYABLE_STATES.has(code) || code.startsWith('08') || RETRYABLE_ERRNOS.has(code))) return true
  return error instanceof Error && !(error instanceof pg.DatabaseError) && CONNECTION_MESSAGE.test(error.message)
}

/** Whether the connection is unusable after this error (rather than only its transaction). */
function breaksConnection (error: unknown): boolean {
  if (error instanceof pg.DatabaseError) return error.code !== undefined && (error.code.startsWith('08') || error.code.startsWith('57P'))
  return isRetryable(error)
}

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

export class PgWriter implements StoreWriter {
  readonly #options: PgWriterOptions
  readonly #retryDeadlineMs: number
  readonly #where: string
  readonly #group: GroupCommit
  #closing: Promise<void> | undefined
  #closed = false
  #client: pg.Client | undefined
  #connecting: Promise<pg.Client> | undefined
  #healthy = true
  #recovery: NodeJS.Timeout | undefined
  #recoveryDelayMs = 0
  #prunedAt = 0

  constructor (options: PgWriterOptions) {
    this.#options = options
    this.#retryDeadlineMs = options.retryDeadlineMs ?? 5000
    this.#where = describeDatabase(options.url)
    this.#group = new GroupCommit(options.maxBatch, async (requests) => await this.#commit(requests),
      (request) => this.#options.deliver(failedAnswers([request], 'store is closing'), []))
    // Connect now, so that available() says early whether the database can be reached.
    this.#scheduleRecovery()
  }

  /** False while the connection is known broken and not yet reopened (for /readyz). */
  available (): boolean {
    return this.#healthy
  }

  /** Queues one requester's ops for the next transaction. */
  submit (requester: number, requestId: number, ops: WriteOp[]): void {
    this.#group.submit({ requester, requestId, ops })
  }

  async #commit (requests: WriteRequest[]): Promise<void> {
    const ops = requests.flatMap((request) => request.ops)
    const ts = Date.now()
    const batch: Batch = {
      id: randomUUID(),
      ops,
      ts,
      messageIds: ops.map((op) => op.kind === 'append' ? uuidv7(ts) : undefined),
      recorded: ops.some((op) => op.kind !== 'append')
    }
    const started = performance.now()
    let outcome: Outcome
    try {
      outcome = await this.#run(batch, started)
    } catch (error) {
      this.#hook(() => this.#options.onCommit?.(ops.length, performance.now() - started, false))
      const message = error instanceof Error ? error.message : String(error)
      this.#hook(() => this.#options.deliver(failedAnswers(requests, message), []))
      return
    }
    const { results, uncertain } = outcome
    this.#hook(() => this.#options.onCommit?.(ops.length, performance.now() - started, true))
    const revoked = ops.flatMap((op) => op.kind === 'revoke' ? [{ key: op.key, expiresAtMs: op.expiresAtMs }] : [])
    if (revoked.length > 0) this.#hook(() => this.#options.onRevoked?.(revoked))
    const answers = answersFor(requests, results)
    const committed: CommittedMessage[] = []
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i] as WriteOp
      const result = results[i] as WriteResult
      if (op.kind !== 'append' || result.kind !== 'append' || (result.duplicate && !uncertain)) continue
      committed.push(committedMessage(op, result))
    }
    // New messages are in seq order per room already; resends delivered after an uncertain commit
    // may come earlier (a stable sort by seq keeps each room's in order).
    if (uncertain) committed.sort((a, b) => a[1].seq - b[1].seq)
    this.#hook(() => this.#options.deliver(answers, committed))
  }

  /** A hook that throws is a bug of its owner; it must not stop this writer. */
  #hook (call: () => void): void {
    try {
      call()
    } catch (error) {
      this.#options.logger?.error({ err: error }, 'a store writer hook threw')
    }
  }

  /** Commits the batch, retrying retryable failures until the deadline. */
  async #run (batch: Batch, started: number): Promise<Outcome> {
    const deadline = started + this.#retryDeadlineMs
    let uncertain = false
    let delayMs = RETRY_FIRST_MS
    for (let attempt = 1; ; attempt++) {
      let client: pg.Client | undefined
      try {
        client = await this.#connection()
        const results = await this.#transaction(client, batch, attempt > 1)
        return { results, uncertain }
      } catch (error) {
        const broken = client === undefined || this.#client !== client || breaksConnection(error)
        if (!broken && !isRetryable(error)) throw error
        if (client !== undefined && broken) {
          // The attempt may have committed (the connection died during COMMIT) or not.
          uncertain = true
          this.#drop(client, error)
        }
        const now = performance.now()
        if (now >= deadline) {
          this.#options.logger?.error({ err: error, database: this.#where, attempts: attempt, ops: batch.ops.length }, 'store unavailable: batch answered with an error')
          this.#scheduleRecovery()
          throw new Error(`${STORE_UNAVAILABLE}: ${reasonOf(error)}`)
        }
        const log = this.#options.logger
        if (log !== undefined) log[attempt === 1 ? 'warn' : 'debug']({ err: error, database: this.#where, attempt }, 'store transaction failed; retrying')
        await sleep(Math.min(delayMs, deadline - now))
        delayMs = Math.min(delayMs * 2, RETRY_MAX_MS)
      }
    }
  }

  /** One attempt: BEGIN … COMMIT, or ROLLBACK and rethrow. */
  async #transaction (client: pg.Client, batch: Batch, rerun: boolean): Promise<WriteResult[]> {
    const q: Query = async (text, values, name) => await client.query(name === undefined ? { text, values } : { name, text, values })
    await client.query('BEGIN')
    try {
      if (batch.recorded) {
        // An earlier attempt still running on a dead connection holds this lock until it ends.
        await q(SQL.lockKeys, [[`batch:${batch.id}`]], 'writer.lockKeys')
        if (rerun) {
          const { rows } = await q<{ results: WriteResult[] }>(SQL.batchResults, [batch.id], 'writer.batchResults')
          if (rows[0] !== undefined) {
            await client.query('COMMIT')
            return rows[0].results
          }
        }
      }
      const results = await applyBatch(q, batch)
      if (batch.recorded) await q(SQL.recordBatch, [batch.id, JSON.stringify(results), batch.ts], 'writer.recordBatch')
      const pruning = batch.ts - this.#prunedAt >= PRUNE_EVERY_MS
      if (pruning) await q(SQL.pruneBatches, [batch.ts - BATCH_RESULTS_TTL_MS], 'writer.pruneBatches')
      await client.query('COMMIT')
      if (pruning) this.#prunedAt = batch.ts
      return results
    } catch (error) {
      if (this.#client === client && !breaksConnection(error)) {
        await client.query('ROLLBACK').catch((rollbackError: unknown) => this.#drop(client, rollbackError))
      }
      throw error
    }
  }

  /** The open connection, or a new one. */
  async #connection (): Promise<pg.Client> {
    if (this.#client !== undefined) return this.#client
    this.#connecting ??= this.#open().finally(() => { this.#connecting = undefined })
    return await this.#connecting
  }

  async #open (): Promise<pg.Client> {
    if (this.#closed) throw new Error('store is closing')
    const client = new pg.Client(connectionConfig({
      url: this.#options.url,
      connectTimeoutMs: this.#options.connectTimeoutMs,
      idleInTransactionTimeoutMs: IDLE_IN_TRANSACTION_MS
    }))
    // An idle connection whose backend goes away emits 'error' (unheard, it would end the process).
    client.on('error', (error) => this.#drop(client, error))
    client.on('end', () => this.#drop(client, new Error('Connection terminated')))
    try {
      await client.connect()
    } catch (error) {
      this.#healthy = false
      await client.end().catch(() => {})
      throw error
    }
    if (this.#closed) {
      await client.end().catch(() => {})
      throw new Error('store is closing')
    }
    if (!this.#healthy) this.#options.logger?.info({ database: this.#where }, 'store connection reopened')
    this.#client = client
    this.#healthy = true
    this.#recoveryDelayMs = 0
    return client
  }

  /** Forgets a broken connection; the next batch (or the recovery timer) opens a new one. */
  #drop (client: pg.Client, error: unknown): void {
    if (this.#client !== client) return
    this.#client = undefined
    this.#healthy = false
    this.#options.logger?.warn({ err: error, database: this.#where }, 'store connection lost')
    client.end().catch(() => {})
    this.#scheduleRecovery()
  }

  /**
   * While disconnected, tries to reconnect (at once, then 50 ms doubling to 1 s), so available()
   * recovers without traffic. A batch in flight reconnects by itself: look again later.
   */
  #scheduleRecovery (delayMs = this.#recoveryDelayMs): void {
    if (this.#recovery !== undefined || this.#closed) return
    this.#recovery = setTimeout(() => {
      this.#recovery = undefined
      if (this.#closed || this.#client !== undefined) return
      if (this.#group.busy) {
        this.#scheduleRecovery(RETRY_MAX_MS)
        return
      }
      this.#connection().catch(() => {
        this.#recoveryDelayMs = Math.min(Math.max(this.#recoveryDelayMs * 2, RETRY_FIRST_MS), RETRY_MAX_MS)
        this.#scheduleRecovery()
      })
    }, delayMs)
    this.#recovery.unref()
  }

  /** Commits everything queued, then closes the connection. Idempotent. */
  close (): Promise<void> {
    this.#closing ??= (async () => {
      await this.#group.drain()
      this.#closed = true
      clearTimeout(this.#recovery)
      this.#recovery = undefined
      await this.#connecting?.catch(() => {})
      const client = this.#client
      this.#client = undefined
      await client?.end().catch(() => {})
    })()
    return this.#closing
  }
}

/** Locks, appends and then every other op of the batch, in one open transaction; the results by op. */
async function applyBatch (q: Query, batch: Batch): Promise<WriteResult[]> {
  const { ops, ts } = batch
  const results: Array<WriteResult | undefined> = new Array(ops.length)

  // 1. Room locks, in id order, in one statement.
  const roomIds = new Set<number>()
  const roomNames = new Set<string>()
  for (const op of ops) {
    if (op.kind === 'append' || op.kind === 'moderate' || op.kind === 'message-delete') roomIds.add(op.roomId)
    else if (op.kind === 'room-enter' || op.kind === 'dm-open') roomNames.add(op.name)
  }
  const lastSeqs = new Map<number, number>()
  const lockedNames = new Set<string>()
  if (roomIds.size > 0 || roomNames.size > 0) {
    const { rows } = roomNames.size === 0
      ? await q<{ id: number, name: string, last_seq: number }>(SQL.lockRooms, [[...roomIds]], 'writer.lockRooms')
      : await q<{ id: number, name: string, last_seq: number }>(SQL.lockRoomsAndNames, [[...roomIds], [...roomNames]], 'writer.lockRoomsAndNames')
    for (const row of rows) {
      lastSeqs.set(row.id, row.last_seq)
      lockedNames.add(row.name)
    }
  }
  // Then the advisory locks of rules on users and names, sorted.
  const keys = new Set<string>()
  for (const op of ops) {
    if (op.kind === 'register' || op.kind === 'guest') keys.add(`account:${op.username.toLowerCase()}`)
    else if (op.kind === 'room-create' || (op.kind === 'room-enter' && !lockedNames.has(op.name))) keys.add(`creator:${op.userId}`)
  }
  if (keys.size > 0) await q(SQL.lockKeys, [[...keys].sort()], 'writer.lockKeys')

  // 2. Appends.
  const appends: Array<[number, AppendOp]> = []
  ops.forEach((op, i) => { if (op.kind === 'append') appends.push([i, op]) })
  if (appends.length > 0) await appendAll(q, batch, appends, lastSeqs, results)

  // 3. Everything else, in order.
  const rooms = createRoomWrites(q)
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i] as WriteOp
    switch (op.kind) {
      case 'append':
        break
      case 'register': {
        const userId = randomUUID()
        const inserted = await rooms.accountNamed(op.username) ? 0 : await rooms.insertAccount(userId, op.username, op.passwordHash, ts)
        results[i] = inserted === 0 ? { kind: 'register', conflict: true } : { kind: 'register', conflict: false, userId, username: op.username }
        break
      }
      case 'guest': {
        if (await rooms.accountNamed(op.username)) {
          results[i] = { kind: 'guest', refused: true }
          break
        }
        const userId = randomUUID()
        await rooms.insertGuest(userId, op.username, ts)
        results[i] = { kind: 'guest', refused: false, userId, username: op.username }
        break
      }
      case 'revoke':
        await rooms.revoke(op.key, op.expiresAtMs, ts - REVOCATION_KEEP_MS)
        results[i] = { kind: 'revoke' }
        break
      case 'room-create':
        results[i] = await rooms.createRoom(op, ts)
        break
      case 'room-enter':
        results[i] = await rooms.enterRoom(op, ts)
        break
      case 'moderate':
        results[i] = await rooms.moderate(op, ts)
        break
      case 'dm-open':
        results[i] = await rooms.openDirect(op, ts)
        break
      case 'message-delete':
        results[i] = await rooms.deleteMessage(op)
        break
    }
  }
  return results as WriteResult[]
}

const messageKey = (roomId: number, userId: string, clientMsgId: string): string => `${roomId}\n${userId}\n${clientMsgId}`

/**
 * The batch's appends, under the room locks: resends answered from the stored rows, new messages
 * numbered from each room's last seq and inserted with one statement.
 */
async function appendAll (q: Query, batch: Batch, appends: Array<[number, AppendOp]>, lastSeqs: Map<number, number>, results: Array<WriteResult | undefined>): Promise<void> {
  const { rows: found } = await q<{ room_id: number, user_id: string, client_msg_id: string, id: string, seq: number, ts: number }>(
    SQL.findMessages,
    [appends.map(([, op]) => op.roomId), appends.map(([, op]) => op.userId), appends.map(([, op]) => op.clientMsgId)],
    'writer.findMessages')
  const stored = new Map<string, { id: string, seq: number, ts: number }>()
  for (const row of found) stored.set(messageKey(row.room_id, row.user_id, row.client_msg_id), { id: row.id, seq: row.seq, ts: row.ts })

  const insert = { roomIds: [] as number[], seqs: [] as number[], ids: [] as string[], userIds: [] as string[], usernames: [] as string[], texts: [] as string[], clientMsgIds: [] as string[] }
  const touched = new Set<number>()
  for (const [i, op] of appends) {
    const key = messageKey(op.roomId, op.userId, op.clientMsgId)
    const id = batch.messageIds[i] as string
    const existing = stored.get(key)
    if (existing !== undefined) {
      // This very op's id: an earlier attempt of this batch committed it after all.
      const result: AppendResult = { kind: 'append', id: existing.id, seq: existing.seq, ts: existing.ts, duplicate: existing.id !== id }
      results[i] = result
      continue
    }
    const last = lastSeqs.get(op.roomId)
    if (last === undefined) throw new Error(`room ${op.roomId} does not exist`)
    const seq = last + 1
    lastSeqs.set(op.roomId, seq)
    touched.add(op.roomId)
    stored.set(key, { id, seq, ts: batch.ts })
    insert.roomIds.push(op.roomId)
    insert.seqs.push(seq)
    insert.ids.push(id)
    insert.userIds.push(op.userId)
    insert.usernames.push(op.username)
    insert.texts.push(op.text)
    insert.clientMsgIds.push(op.clientMsgId)
    results[i] = { kind: 'append', id, seq, ts: batch.ts, duplicate: false }
  }
  if (insert.ids.length === 0) return
  await q(SQL.insertMessages, [insert.roomIds, insert.seqs, insert.ids, insert.userIds, insert.usernames, insert.texts, batch.ts, insert.clientMsgIds], 'writer.insertMessages')
  const rooms = [...touched]
  await q(SQL.setLastSeqs, [rooms, rooms.map((roomId) => lastSeqs.get(roomId) as number)], 'writer.setLastSeqs')
}

// ---------------------------------------------------------------------------------------------
