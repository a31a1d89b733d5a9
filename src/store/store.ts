import type { MemberRole, Message, Visibility } from '../protocol/schemas.js'
import type { CommittedMessage, WriteOp, WriteResult } from './write-ops.js'

/**
 * The store seam: what handlers, room feeds and routes may ask of the store, whichever backend
 * holds it (the embedded SQLite file of one VM, src/store/sqlite/, or PostgreSQL shared by
 * several VMs, src/store/postgres/). Reads are asynchronous because a network store needs them
 * to be; writes are operations (write-ops.ts) that a writer commits in batches.
 */

export interface RoomRef {
  id: number
  name: string
}

/** A room with what decides who may enter it (neither changes after creation). */
export interface RoomInfo extends RoomRef {
  visibility: Visibility
  /** A direct-message room. */
  direct: boolean
}

/** One of a user's memberships, for `GET /api/rooms`. */
export interface Membership {
  room: string
  visibility: Visibility
  role: MemberRole
  direct: boolean
}

export interface Page {
  messages: Message[]
  hasMore: boolean
}

export interface Account {
  userId: string
  username: string
  passwordHash: string
}

export interface RevokedTokenRow {
  key: string
  expiresAtMs: number
}

/** The read side, on a worker's event loop. Every page walks the (room_id, seq) key. */
export interface StoreReader {
  /** The room with its visibility, or undefined when it was never created. */
  roomInfo: (name: string) => Promise<RoomInfo | undefined>
  /** The user's role in the room, or undefined when not a member. */
  role: (roomId: number, userId: string) => Promise<MemberRole | undefined>
  banned: (roomId: number, userId: string) => Promise<boolean>
  /** The room's owner and moderators. */
  staff: (roomId: number) => Promise<Array<{ userId: string, role: 'owner' | 'moderator' }>>
  /** Every room the user is a member of, sorted by name. */
  memberships: (userId: string) => Promise<Membership[]>
  /** The account with this name (any case), or undefined. */
  findAccount: (username: string) => Promise<Account | undefined>
  /** Revoked tokens that have not expired yet. */
  revokedTokens: (nowMs: number) => Promise<RevokedTokenRow[]>
  /** The room's last committed seq (0 when it has none or does not exist). */
  lastSeq: (roomId: number) => Promise<number>
  /** Last seq of many rooms in one query (reconciliation of live feeds). */
  lastSeqs: (roomIds: readonly number[]) => Promise<Map<number, number>>
  /** The newest `limit` messages with seq < `before`, oldest first; hasMore when older ones exist. */
  before: (room: RoomRef, before: number | undefined, limit: number) => Promise<Page>
  /** The oldest `limit` messages with after < seq < before, oldest first; hasMore when more remain in range. */
  after: (room: RoomRef, after: number, before: number | undefined, limit: number) => Promise<Page>
  close: () => Promise<void>
}

/** The answer to one request: its requester (a worker id) and a result per op, or an error. */
export interface Answer {
  requester: number
  requestId: number
  results?: WriteResult[]
  error?: string
}

/** What a writer tells its owner about each transaction. */
export interface WriterHooks {
  /**
   * Hears each transaction once it is over: the answer to every request in it (a result per op,
   * or the error that failed the transaction) and its new messages in seq order per room (none
   * when it failed).
   */
  deliver: (answers: Answer[], messages: CommittedMessage[]) => void
  /**
   * Tokens revoked by a committed transaction, heard before any request of it is answered, so a
   * token is refused everywhere once its DELETE answers.
   */
  onRevoked?: (tokens: RevokedTokenRow[]) => void
  /** Hears each transaction's size, duration and outcome. */
  onCommit?: (ops: number, durationMs: number, ok: boolean) => void
}

/**
 * The committing side: one per VM (in the primary, or in the only worker). Requests that arrive
 * while a transaction is in flight go into the next one together (group commit).
 */
export interface StoreWriter {
  /** Queues one requester's ops for the next transaction; the answer comes through `deliver`. */
  submit: (requester: number, requestId: number, ops: WriteOp[]) => void
  /** Commits everything queued, then closes. Idempotent. */
  close: () => Promise<void>
}

/**
 * How a writer's error message starts when the store cannot be reached (PostgreSQL away past
 * the writer's retries): callers answer E_OVERLOADED with retryAfterMs, not E_INTERNAL.
 */
export const STORE_UNAVAILABLE = 'store unavailable'

/** A committed new message as broadcast: the append op it came from and its result. */
export function committedMessage (op: Extract<WriteOp, { kind: 'append' }>, result: { id: string, seq: number, ts: number }): CommittedMessage {
  return [op.roomId, { id: result.id, room: op.room, seq: result.seq, userId: op.userId, username: op.username, text: op.text, ts: result.ts, clientMsgId: op.clientMsgId }]
}
