import type { PresenceEvent, RoleEvent, StaffMember } from '../protocol/events.js'
import type { Member, MemberRole, Message, Visibility } from '../protocol/schemas.js'
import { backoffDelayMs, sleep, type BackoffOptions } from './backoff.js'
import type { Emit, HistoryPage } from './client-events.js'
import { NO_ANSWER, type ClientError } from './errors.js'
import { HISTORY_MAX_LIMIT } from '../protocol/limits.js'
import type { Requester } from './request.js'

/**
 * One joined room on the client: the highest seq delivered to the app, and the work that keeps
 * the app's view complete. Every (re)join asks `since` that seq and follows `hasMore`; a live
 * message after a hole is preceded by the hole's messages, read with `history`; anything at or
 * below the seq is a duplicate and dropped. Joins and deliveries run one at a time, in arrival
 * order, so a live message that arrives while a join is in flight waits for it.
 */

/** What a join tells about the room (1.1 servers; undefined fields from a 1.0 server). */
export interface RoomInfo {
  visibility?: Visibility
  /** This user's role. */
  role?: MemberRole
  /** The owner and moderators. */
  staff: StaffMember[]
  direct: boolean
}

export interface RoomFeedDeps {
  request: Requester
  emit: Emit
  online: () => boolean
  /** The server will not let this client into the room (E_FORBIDDEN, E_VALIDATION…). */
  refused: (error: ClientError) => void
  signal: AbortSignal
  backoff: BackoffOptions
}

/** Join answers that are retried (after their retryAfterMs) instead of failing the room. */
const RETRYABLE = new Set(['E_RATE_LIMITED', 'E_OVERLOADED', 'E_INTERNAL'])
const MAX_JOIN_ATTEMPTS = 6

export class RoomFeed {
  readonly name: string
  /** Settles on the first successful join; rejects when the room can never be joined. */
  readonly ready: Promise<void>
  #settleReady: (error?: ClientError) => void = () => {}
  readonly #deps: RoomFeedDeps
  #lastSeq = 0
  #oldestSeq: number | undefined
  #synced = false
  #joined = false
  #members = new Map<string, Member>()
  #info: RoomInfo = { staff: [], direct: false }
  #tail: Promise<void> = Promise.resolve()

  constructor (name: string, deps: RoomFeedDeps) {
    this.name = name
    this.#deps = deps
    this.ready = new Promise<void>((resolve, reject) => {
      this.#settleReady = (error) => { if (error === undefined) resolve(); else reject(error) }
    })
    // A caller that never awaits `ready` must not see an unhandled rejection.
    this.ready.catch(() => {})
  }

  /** Joined on the current connection. */
  get joined (): boolean {
    return this.#joined
  }

  get lastSeq (): number {
    return this.#lastSeq
  }

  get members (): Member[] {
    return [...this.#members.values()]
  }

  get info (): RoomInfo {
    return this.#info
  }

  /** A role change the room heard: the staff list follows it. */
  role (event: RoleEvent, selfId: string | undefined): void {
    const staff = this.#info.staff.filter((member) => member.userId !== event.userId)
    if (event.role !== 'member') staff.push({ userId: event.userId, role: event.role })
    this.#info = { ...this.#info, staff }
    if (event.userId === selfId) this.#info.role = event.role
  }

  /** (Re)joins on the current connection and delivers what was missed; resolves when done. */
  async sync (): Promise<void> {
    await this.#serial(() => this.#join())
  }

  /** The connection dropped: the server forgot this socket's rooms. */
  disconnected (): void {
    this.#joined = false
  }

  /** A live `message` event of this room. */
  offer (message: Message): void {
    void this.#serial(() => this.#accept([message]))
  }

  presence (event: PresenceEvent): void {
    if (event.status === 'online') this.#members.set(event.userId, { userId: event.userId, username: event.username })
    else this.#members.delete(event.userId)
    this.#deps.emit('members', this.name, this.members)
  }

  /** The page of messages before the oldest one this client has seen. */
  async older (limit: number): Promise<HistoryPage | ClientError> {
    const before = this.#oldestSeq ?? this.#lastSeq + 1
    if (before <= 1) return { messages: [], hasMore: false }
    const ack = await this.#deps.request('history', { room: this.name, before, limit })
    if (ack === undefined) return NO_ANSWER
    if (!ack.ok) return ack.error
    const first = ack.messages[0]
    if (first !== undefined && first.seq < before) this.#oldestSeq = first.seq
    return { messages: ack.messages, hasMore: ack.hasMore }
  }

  async #serial (task: () => Promise<void>): Promise<void> {
    const run = this.#tail.then(task)
    this.#tail = run.catch((error: unknown) => {
      this.#deps.emit('error', { code: 'E_INTERNAL', message: `room ${this.name}: ${String(error)}`, room: this.name })
    })
    await this.#tail
  }

  async #join (): Promise<void> {
    let recovered = 0
    for (let attempt = 1; ; attempt++) {
      const ack = await this.#deps.request('room:join', this.#synced ? { room: this.name, since: this.#lastSeq } : { room: this.name })
      if (ack === undefined) {
        // Offline: the next connection syncs again. Online: the answer was only late.
        if (!this.#deps.online() || attempt >= MAX_JOIN_ATTEMPTS) return
        if (!await sleep(backoffDelayMs(attempt, this.#deps.backoff), this.#deps.signal)) return
        continue
      }
      if (!ack.ok) {
        if (RETRYABLE.has(ack.error.code) && attempt < MAX_JOIN_ATTEMPTS) {
          if (!await sleep(ack.error.retryAfterMs ?? backoffDelayMs(attempt, this.#deps.backoff), this.#deps.signal)) return
          continue
        }
        this.#deps.refused(ack.error)
        this.#settleReady(ack.error)
        return
      }
      if (!this.#synced) {
        // A first join answers the latest page: the feed starts just below it.
        this.#lastSeq = (ack.missed[0]?.seq ?? ack.seq + 1) - 1
        this.#synced = true
      }
      this.#joined = true
      this.#members = new Map(ack.members.map((member) => [member.userId, member]))
      this.#info = { staff: ack.staff ?? [], direct: ack.direct ?? false }
      if (ack.visibility !== undefined) this.#info.visibility = ack.visibility
      if (ack.role !== undefined) this.#info.role = ack.role
      const before = this.#lastSeq
      await this.#accept(ack.missed)
      recovered += this.#lastSeq - before
      if (!ack.hasMore) break
      attempt = 0
    }
    this.#deps.emit('members', this.name, this.members)
    this.#deps.emit('synced', { room: this.name, lastSeq: this.#lastSeq, recovered, members: this.members, info: this.#info })
    this.#settleReady()
  }

  /** Delivers messages in seq order: drops what was delivered, fills holes from history first. */
  async #accept (messages: Message[]): Promise<void> {
    for (const message of messages) {
      if (message.seq <= this.#lastSeq) continue
      if (message.seq > this.#lastSeq + 1) {
        const hole = await this.#readHole(message.seq)
        if (hole === undefined) {
          // Leave the hole for a rejoin `since` the last delivered seq to close.
          if (this.#deps.online()) void this.sync()
          return
        }
        for (const filler of hole) this.#deliver(filler)
      }
      this.#deliver(message)
    }
  }

  /** The messages between the last delivered seq and `until` (exclusive), oldest first. */
  async #readHole (until: number): Promise<Message[] | undefined> {
    const pages: Message[][] = []
    let before = until
    while (before > this.#lastSeq + 1) {
      const limit = Math.min(HISTORY_MAX_LIMIT, before - this.#lastSeq - 1)
      const ack = await this.#deps.request('history', { room: this.name, before, limit })
      if (ack === undefined || !ack.ok) return undefined
      pages.unshift(ack.messages)
      const first = ack.messages[0]
      if (first === undefined || !ack.hasMore) break
      before = first.seq
    }
    return pages.flat().filter((message) => message.seq > this.#lastSeq && message.seq < until)
  }

  #deliver (message: Message): void {
    if (message.seq <= this.#lastSeq) return
    this.#lastSeq = message.seq
    this.#oldestSeq ??= message.seq
    this.#deps.emit('message', message)
  }
}
