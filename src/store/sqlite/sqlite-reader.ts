import type Database from 'better-sqlite3'
import type { MemberRole, Visibility } from '../../protocol/schemas.js'
import { MESSAGE_COLUMNS, toMessage, type MessageRow } from '../rows.js'
import type { Account, Membership, Page, RevokedTokenRow, RoomInfo, RoomRef, StoreReader } from '../store.js'
import { openDatabase } from './database.js'

/**
 * The embedded store's read side, on a worker's event loop: every query walks the (room_id, seq)
 * primary key, so a page costs an index seek plus its rows, never a scan. Reads in WAL mode see
 * every committed write and never wait for a writer. The queries are synchronous (better-sqlite3);
 * the seam's promises only wrap their results.
 */

const MAX_SEQ = Number.MAX_SAFE_INTEGER

export class SqliteReader implements StoreReader {
  readonly #db: Database.Database
  readonly #onRead: ((durationMs: number) => void) | undefined
  readonly #roomByName: Database.Statement<[string], { id: number, last_seq: number }>
  readonly #lastSeq: Database.Statement<[number], { last_seq: number }>
  readonly #lastSeqs: Database.Statement<[string], { id: number, last_seq: number }>
  readonly #descending: Database.Statement<[number, number, number], MessageRow>
  readonly #ascending: Database.Statement<[number, number, number, number], MessageRow>
  readonly #roomInfo: Database.Statement<[string], { id: number, visibility: Visibility, direct: number }>
  readonly #role: Database.Statement<[number, string], { role: MemberRole }>
  readonly #banned: Database.Statement<[number, string], { one: number }>
  readonly #staff: Database.Statement<[number], { user_id: string, role: 'owner' | 'moderator' }>
  readonly #memberships: Database.Statement<[string], { name: string, visibility: Visibility, direct: number, role: MemberRole }>
  readonly #account: Database.Statement<[string], { id: string, username: string, password_hash: string }>
  readonly #revoked: Database.Statement<[number], { token_key: string, expires_at: number }>

  /** `onRead` hears how long each query held the event loop (the store's only synchronous work there). */
  constructor (file: string, onRead?: (durationMs: number) => void) {
    this.#onRead = onRead
    this.#db = openDatabase(file, { readonly: true })
    this.#roomByName = this.#db.prepare('SELECT id, last_seq FROM rooms WHERE name = ?')
    this.#lastSeq = this.#db.prepare('SELECT last_seq FROM rooms WHERE id = ?')
    this.#lastSeqs = this.#db.prepare('SELECT id, last_seq FROM rooms WHERE id IN (SELECT value FROM json_each(?))')
    this.#descending = this.#db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE room_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`)
    this.#ascending = this.#db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE room_id = ? AND seq > ? AND seq < ? ORDER BY seq ASC LIMIT ?`)
    this.#roomInfo = this.#db.prepare('SELECT id, visibility, direct FROM rooms WHERE name = ?')
    this.#role = this.#db.prepare('SELECT role FROM memberships WHERE room_id = ? AND user_id = ?')
    this.#banned = this.#db.prepare('SELECT 1 AS one FROM bans WHERE room_id = ? AND user_id = ?')
    this.#staff = this.#db.prepare("SELECT user_id, role FROM memberships WHERE room_id = ? AND role <> 'member'")
    this.#memberships = this.#db.prepare(
      'SELECT rooms.name, rooms.visibility, rooms.direct, memberships.role FROM memberships JOIN rooms ON rooms.id = memberships.room_id ' +
      'WHERE memberships.user_id = ?')
    this.#account = this.#db.prepare("SELECT id, username, password_hash FROM users WHERE kind = 'account' AND username = ? COLLATE NOCASE")
    this.#revoked = this.#db.prepare('SELECT token_key, expires_at FROM revoked_tokens WHERE expires_at >= ?')
  }

  /** The room with its visibility, or undefined when it was never created. */
  async roomInfo (name: string): Promise<RoomInfo | undefined> {
    const row = this.#roomInfo.get(name)
    return row === undefined ? undefined : { id: row.id, name, visibility: row.visibility, direct: row.direct !== 0 }
  }

  /** The user's role in the room, or undefined when not a member. */
  async role (roomId: number, userId: string): Promise<MemberRole | undefined> {
    return this.#role.get(roomId, userId)?.role
  }

  async banned (roomId: number, userId: string): Promise<boolean> {
    return this.#banned.get(roomId, userId) !== undefined
  }

  /** The room's owner and moderators. */
  async staff (roomId: number): Promise<Array<{ userId: string, role: 'owner' | 'moderator' }>> {
    return this.#staff.all(roomId).map((row) => ({ userId: row.user_id, role: row.role }))
  }

  /** Every room the user is a member of, by name. */
  async memberships (userId: string): Promise<Membership[]> {
    return this.#memberships.all(userId)
      .map((row) => ({ room: row.name, visibility: row.visibility, role: row.role, direct: row.direct !== 0 }))
      .sort((a, b) => a.room < b.room ? -1 : a.room > b.room ? 1 : 0)
  }

  /** The account with this name (any case), or undefined. */
  async findAccount (username: string): Promise<Account | undefined> {
    const row = this.#account.get(username)
    return row === undefined ? undefined : { userId: row.id, username: row.username, passwordHash: row.password_hash }
  }

  /** Revoked tokens that have not expired yet (a worker loads them at start). */
  async revokedTokens (nowMs: number): Promise<RevokedTokenRow[]> {
    return this.#revoked.all(nowMs).map((row) => ({ key: row.token_key, expiresAtMs: row.expires_at }))
  }

  /** The room's id and current last seq, or undefined when it was never created. */
  findRoom (name: string): { id: number, lastSeq: number } | undefined {
    const row = this.#roomByName.get(name)
    return row === undefined ? undefined : { id: row.id, lastSeq: row.last_seq }
  }

  async lastSeq (roomId: number): Promise<number> {
    return this.#lastSeq.get(roomId)?.last_seq ?? 0
  }

  /** Last seq of many rooms in one query (for reconciliation of live feeds). */
  async lastSeqs (roomIds: readonly number[]): Promise<Map<number, number>> {
    const result = new Map<number, number>()
    for (const row of this.#lastSeqs.all(JSON.stringify(roomIds))) result.set(row.id, row.last_seq)
    return result
  }

  /** The newest `limit` messages with seq < `before`, oldest first; hasMore when older ones exist. */
  async before (room: RoomRef, before: number | undefined, limit: number): Promise<Page> {
    const rows = this.#timed(() => this.#descending.all(room.id, before ?? MAX_SEQ, limit + 1))
    const hasMore = rows.length > limit
    if (hasMore) rows.length = limit
    rows.reverse()
    return { messages: rows.map((row) => toMessage(room.name, row)), hasMore }
  }

  /** The oldest `limit` messages with after < seq < before, oldest first; hasMore when more remain in range. */
  async after (room: RoomRef, after: number, before: number | undefined, limit: number): Promise<Page> {
    const rows = this.#timed(() => this.#ascending.all(room.id, after, before ?? MAX_SEQ, limit + 1))
    const hasMore = rows.length > limit
    if (hasMore) rows.length = limit
    return { messages: rows.map((row) => toMessage(room.name, row)), hasMore }
  }

  #timed<T> (query: () => T): T {
    if (this.#onRead === undefined) return query()
    const started = performance.now()
    try {
      return query()
    } finally {
      this.#onRead(performance.now() - started)
    }
  }

  async close (): Promise<void> {
    if (this.#db.open) this.#db.close()
  }
}
