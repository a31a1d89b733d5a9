import type { QueryResultRow } from 'pg'
import type { Logger } from 'pino'
import type { MemberRole, Visibility } from '../../protocol/schemas.js'
import { toMessage, type MessageRow } from '../rows.js'
import type { Account, Membership, Page, RevokedTokenRow, RoomInfo, RoomRef, StoreReader } from '../store.js'
import { createPgPool, type PgPool, type PoolStats } from './pg-pool.js'

/**
 * The PostgreSQL store's read side, on a worker's event loop: the SQLite reader's queries
 * (sqlite-reader.ts), each a named prepared statement on a small pool of connections. Every
 * query walks an index: pages the (room_id, seq) primary key, accounts the lower(username)
 * index. Reads see every committed write (of any VM); a failed query rejects, and the pool
 * opens a new connection for the next one.
 */

const MAX_SEQ = Number.MAX_SAFE_INTEGER
// `deleted` as 0/1, the shape rows.ts's toMessage reads.
const COLUMNS = 'seq, id, user_id, username, text, ts, client_msg_id, deleted::int AS deleted'

const SQL = {
  roomInfo: 'SELECT id, visibility, direct FROM rooms WHERE name = $1',
  role: 'SELECT role FROM memberships WHERE room_id = $1 AND user_id = $2',
  banned: 'SELECT 1 AS one FROM bans WHERE room_id = $1 AND user_id = $2',
  staff: "SELECT user_id, role FROM memberships WHERE room_id = $1 AND role <> 'member'",
  memberships: 'SELECT rooms.name, rooms.visibility, rooms.direct, memberships.role FROM memberships JOIN rooms ON rooms.id = memberships.room_id ' +
    'WHERE memberships.user_id = $1',
  account: "SELECT id, username, password_hash FROM users WHERE kind = 'account' AND lower(username) = lower($1)",
  revoked: 'SELECT token_key, expires_at FROM revoked_tokens WHERE expires_at >= $1',
  lastSeq: 'SELECT last_seq FROM rooms WHERE id = $1',
  lastSeqs: 'SELECT id, last_seq FROM rooms WHERE id = ANY($1::int[])',
  descending: `SELECT ${COLUMNS} FROM messages WHERE room_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`,
  ascending: `SELECT ${COLUMNS} FROM messages WHERE room_id = $1 AND seq > $2 AND seq < $3 ORDER BY seq ASC LIMIT $4`
} as const

export interface PgReaderOptions {
  url: string
  /** Most connections this reader holds open. */
  poolSize: number
  connectTimeoutMs: number
  /** Hears how long each page read took (query and rows, waiting for a connection included). */
  onRead?: (durationMs: number) => void
  logger?: Logger
}

export class PgReader implements StoreReader {
  readonly #pool: PgPool
  readonly #onRead: ((durationMs: number) => void) | undefined

  constructor (options: PgReaderOptions) {
    this.#onRead = options.onRead
    this.#pool = createPgPool({
      url: options.url,
      max: options.poolSize,
      connectTimeoutMs: options.connectTimeoutMs,
      ...(options.logger === undefined ? {} : { logger: options.logger })
    })
  }

  async #rows<R extends QueryResultRow> (name: keyof typeof SQL, values: unknown[]): Promise<R[]> {
    const result = await this.#pool.pool.query<R>({ name: `reader.${name}`, text: SQL[name], values })
    return result.rows
  }

  /** The room with its visibility, or undefined when it was never created. */
  async roomInfo (name: string): Promise<RoomInfo | undefined> {
    const [row] = await this.#rows<{ id: number, visibility: Visibility, direct: boolean }>('roomInfo', [name])
    return row === undefined ? undefined : { id: row.id, name, visibility: row.visibility, direct: row.direct }
  }

  /** The user's role in the room, or undefined when not a member. */
  async role (roomId: number, userId: string): Promise<MemberRole | undefined> {
    const [row] = await this.#rows<{ role: MemberRole }>('role', [roomId, userId])
    return row?.role
  }

  async banned (roomId: number, userId: string): Promise<boolean> {
    return (await this.#rows('banned', [roomId, userId])).length > 0
  }

  /** The room's owner and moderators. */
  async staff (roomId: number): Promise<Array<{ userId: string, role: 'owner' | 'moderator' }>> {
    const rows = await this.#rows<{ user_id: string, role: 'owner' | 'moderator' }>('staff', [roomId])
    return rows.map((row) => ({ userId: row.user_id, role: row.role }))
  }

  /** Every room the user is a member of, by name (sorted here, as SQLite's reader does). */
  async memberships (userId: string): Promise<Membership[]> {
    const rows = await this.#rows<{ name: string, visibility: Visibility, direct: boolean, role: MemberRole }>('memberships', [userId])
    return rows
      .map((row) => ({ room: row.name, visibility: row.visibility, role: row.role, direct: row.direct }))
      .sort((a, b) => a.room < b.room ? -1 : a.room > b.room ? 1 : 0)
  }

  /** The account with this name (any case), or undefined. */
  async findAccount (username: string): Promise<Account | undefined> {
    const [row] = await this.#rows<{ id: string, username: string, password_hash: string }>('account', [username])
    return row === undefined ? undefined : { userId: row.id, username: row.username, passwordHash: row.password_hash }
  }

  /** Revoked tokens that have not expired yet (a worker loads them at start). */
  async revokedTokens (nowMs: number): Promise<RevokedTokenRow[]> {
    const rows = await this.#rows<{ token_key: string, expires_at: number }>('revoked', [nowMs])
    return rows.map((row) => ({ key: row.token_key, expiresAtMs: row.expires_at }))
  }

  async lastSeq (roomId: number): Promise<number> {
    const [row] = await this.#rows<{ last_seq: number }>('lastSeq', [roomId])
    return row?.last_seq ?? 0
  }

  /** Last seq of many rooms in one query (for reconciliation of live feeds). */
  async lastSeqs (roomIds: readonly number[]): Promise<Map<number, number>> {
    const result = new Map<number, number>()
    if (roomIds.length === 0) return result
    for (const row of await this.#rows<{ id: number, last_seq: number }>('lastSeqs', [roomIds])) result.set(row.id, row.last_seq)
    return result
  }

  /** The newest `limit` messages with seq < `before`, oldest first; hasMore when older ones exist. */
  async before (room: RoomRef, before: number | undefined, limit: number): Promise<Page> {
    const rows = await this.#timed(() => this.#rows<MessageRow>('descending', [room.id, before ?? MAX_SEQ, limit + 1]))
    const hasMore = rows.length > limit
    if (hasMore) rows.length = limit
    rows.reverse()
    return { messages: rows.map((row) => toMessage(room.name, row)), hasMore }
  }

  /** The oldest `limit` messages with after < seq < before, oldest first; hasMore when more remain in range. */
  async after (room: RoomRef, after: number, before: number | undefined, limit: number): Promise<Page> {
    const rows = await this.#timed(() => this.#rows<MessageRow>('ascending', [room.id, after, before ?? MAX_SEQ, limit + 1]))
    const hasMore = rows.length > limit
    if (hasMore) rows.length = limit
    return { messages: rows.map((row) => toMessage(room.name, row)), hasMore }
  }

  async #timed<T> (query: () => Promise<T>): Promise<T> {
    if (this.#onRead === undefined) return await query()
    const started = performance.now()
    try {
      return await query()
    } finally {
      this.#onRead(performance.now() - started)
    }
  }

  /** Connections open, idle, and queries waiting for one (for metrics). */
  stats (): PoolStats {
    return this.#pool.stats()
  }

  /** Closes every connection; idempotent. */
  async close (): Promise<void> {
    await this.#pool.end()
  }
}
