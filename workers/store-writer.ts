import { randomUUID } from 'node:crypto'
import { uuidv7 } from '../src/store/message-ids.js'
import { workerData } from 'node:worker_threads'
import { openDatabase } from '../src/store/sqlite/database.js'
import type { AppendOp, WriteOp, WriteResult, WriterThreadData } from '../src/store/write-ops.js'
import { createRoomWrites } from './room-writes.js'

/**
 * The store thread (in the primary, see src/store/store-service.ts): the only place the service
 * writes. Each task is a batch of every worker's operations committed in one IMMEDIATE
 * transaction (one fsync for the batch), so `seq` is assigned under SQLite's write lock: per
 * room, from 1, without gaps.
 */

const { file, sync } = workerData as WriterThreadData
// No busy timeout: SQLite's own busy handler sleeps 1, 2, 5, 10 … 100 ms between tries (up to
// 330 ms in all). Normally nothing else writes; if another process ever holds the lock (an
// operator's sqlite3 shell, a second service on the same file), this thread retries itself with
// waits of tens of microseconds instead (see commit()).
const db = openDatabase(file, { sync, busyTimeoutMs: 0 })
const LOCK_DEADLINE_MS = 10_000
const pause = new Int32Array(new SharedArrayBuffer(4))

const findMessage = db.prepare<[number, string, string], { id: string, seq: number, ts: number }>(
  'SELECT id, seq, ts FROM messages WHERE room_id = ? AND user_id = ? AND client_msg_id = ?')
const lastSeq = db.prepare<[number], { last_seq: number }>('SELECT last_seq FROM rooms WHERE id = ?')
const setLastSeq = db.prepare('UPDATE rooms SET last_seq = ? WHERE id = ?')
// A resend (same room, sender and clientMsgId) inserts nothing; any other conflict still fails.
const insertMessage = db.prepare(
  'INSERT INTO messages (room_id, seq, id, user_id, username, text, ts, client_msg_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ' +
  'ON CONFLICT (room_id, user_id, client_msg_id) DO NOTHING')
const insertUser = db.prepare('INSERT INTO users (id, username, kind, password_hash, created_at) VALUES (?, ?, ?, ?, ?)')
const accountNamed = db.prepare<[string], { id: string }>("SELECT id FROM users WHERE kind = 'account' AND username = ? COLLATE NOCASE")
const insertRevoked = db.prepare('INSERT INTO revoked_tokens (token_key, expires_at) VALUES (?, ?) ON CONFLICT (token_key) DO NOTHING')
const pruneRevoked = db.prepare('DELETE FROM revoked_tokens WHERE expires_at < ?')
const rooms = createRoomWrites(db)

/**
 * One message: the insert is tried first and a resend is recognized by the insert changing
 * nothing (one statement for a new message instead of a lookup, a counter update and an insert).
 * `seqs` holds each room's last seq within this transaction: read once per room per batch, under
 * the write lock, and written back once at the end.
 */
function append (op: AppendOp, ts: number, seqs: Map<number, number>): WriteResult {
  let last = seqs.get(op.roomId)
  if (last === undefined) {
    const row = lastSeq.get(op.roomId)
    if (row === undefined) throw new Error(`room ${op.roomId} does not exist`)
    last = row.last_seq
  }
  const id = uuidv7(ts)
  const seq = last + 1
  if (insertMessage.run(op.roomId, seq, id, op.userId, op.username, op.text, ts, op.clientMsgId).changes === 0) {
    seqs.set(op.roomId, last)
    const existing = findMessage.get(op.roomId, op.userId, op.clientMsgId) as { id: string, seq: number, ts: number }
    return { kind: 'append', id: existing.id, seq: existing.seq, ts: existing.ts, duplicate: true }
  }
  seqs.set(op.roomId, seq)
  return { kind: 'append', id, seq, ts, duplicate: false }
}

const commitBatch = db.transaction((ops: WriteOp[]): WriteResult[] => {
  const ts = Date.now()
  const seqs = new Map<number, number>()
  const results = ops.map((op): WriteResult => {
    switch (op.kind) {
      case 'append':
        return append(op, ts, seqs)
      case 'register': {
        if (accountNamed.get(op.username) !== undefined) return { kind: 'register', conflict: true }
        const userId = randomUUID()
        insertUser.run(userId, op.username, 'account', op.passwordHash, ts)
        return { kind: 'register', conflict: false, userId, username: op.username }
      }
      case 'guest': {
        if (accountNamed.get(op.username) !== undefined) return { kind: 'guest', refused: true }
        const userId = randomUUID()
        insertUser.run(userId, op.username, 'guest', null, ts)
        return { kind: 'guest', refused: false, userId, username: op.username }
      }
      case 'revoke': {
        insertRevoked.run(op.key, op.expiresAtMs)
        // Expired entries are useless (the expiry check refuses their tokens): drop them as we go.
        pruneRevoked.run(ts - 24 * 3600 * 1000)
        return { kind: 'revoke' }
      }
      case 'room-create':
        return rooms.createRoom(op, ts)
      case 'room-enter':
        return rooms.enterRoom(op, ts)
      case 'moderate':
        return rooms.moderate(op, ts)
      case 'dm-open':
        return rooms.openDirect(op, ts)
      case 'message-delete':
        return rooms.deleteMessage(op)
    }
  })
  for (const [roomId, seq] of seqs) setLastSeq.run(seq, roomId)
  return results
})

/**
 * Commits one batch; resolves only after the commit (and its fsync under STORE_SYNC=full). While
 * another worker's thread holds the write lock it waits 20 µs, 40 µs … at most 1 ms between tries
 * (this thread has nothing else to do), for at most LOCK_DEADLINE_MS.
 */
export default function commit (ops: WriteOp[]): WriteResult[] {
  const deadline = performance.now() + LOCK_DEADLINE_MS
  for (let waitMs = 0.02; ; waitMs = Math.min(waitMs * 2, 1)) {
    try {
      return commitBatch.immediate(ops)
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_BUSY' || performance.now() > deadline) throw error
      Atomics.wait(pause, 0, 0, waitMs)
    }
  }
}

/**
 * Checkpoints the WAL and closes the connection; the last task a store thread runs. A checkpoint
 * that fails (a full disk) loses nothing: the WAL keeps every commit and is replayed on the next
 * open.
 */
export function close (): boolean {
  if (!db.open) return false
  try {
    db.pragma('wal_checkpoint(PASSIVE)')
  } catch {}
  db.close()
  return true
}
