import type { PresenceEvent } from '../protocol/events.js'
import type { Member } from '../protocol/schemas.js'

/**
 * Who is online in which room, across every worker. Each worker counts its own sockets per
 * (room, user) and publishes the absolute count on every change; every worker keeps the same
 * table of counts per worker and derives "online" (any count above zero) from it. A user with
 * tabs on two workers stays online until the last tab leaves. Going offline waits a grace
 * period, so a quick reconnect does not flap the user offline and online. Each worker tells its
 * own sockets about changes in its own view; all views converge on the same table.
 */

export interface PresenceUpdate {
  workerId: string
  room: string
  userId: string
  username: string
  count: number
}

export interface PresenceOptions {
  workerId: string
  graceMs: number
  /** Sends updates to every other worker. */
  publish: (updates: PresenceUpdate[]) => void
  /** Emits a presence event to this worker's sockets in the room. */
  emitLocal: (event: PresenceEvent) => void
}

interface Entry {
  username: string
  counts: Map<string, number>
  online: boolean
  offlineTimer: NodeJS.Timeout | undefined
}

export class Presence {
  readonly #rooms = new Map<string, Map<string, Entry>>()
  /** Per user, sockets in rooms per worker (summed over rooms): where the user is. */
  readonly #userWorkers = new Map<string, Map<string, number>>()
  readonly #options: PresenceOptions
  #outbox: PresenceUpdate[] = []
  #outboxScheduled = false

  constructor (options: PresenceOptions) {
    this.#options = options
  }

  /** A local socket of `userId` joined `room`. */
  join (room: string, userId: string, username: string): void {
    this.#changeLocal(room, userId, username, +1)
  }

  /** A local socket of `userId` left `room` (or disconnected). */
  leave (room: string, userId: string, username: string): void {
    this.#changeLocal(room, userId, username, -1)
  }

  /** Applies updates published by another worker. */
  apply (updates: PresenceUpdate[]): void {
    for (const update of updates) {
      if (update.workerId === this.#options.workerId) continue
      this.#set(update.room, update.userId, update.username, update.workerId, update.count)
    }
  }

  /** Forgets every socket of a worker that exited. */
  removeWorker (workerId: string): void {
    for (const [room, users] of this.#rooms) {
      for (const [userId, entry] of users) {
        if (entry.counts.has(workerId)) this.#set(room, userId, entry.username, workerId, 0)
      }
    }
  }

  /** This worker's own counts, for a worker that asks to sync after it started. */
  snapshot (): PresenceUpdate[] {
    const updates: PresenceUpdate[] = []
    const workerId = this.#options.workerId
    for (const [room, users] of this.#rooms) {
      for (const [userId, entry] of users) {
        const count = entry.counts.get(workerId)
        if (count !== undefined && count > 0) updates.push({ workerId, room, userId, username: entry.username, count })
      }
    }
    return updates
  }

  /**
   * True when every socket of the user that is in a room is on this worker (sending needs a
   * room, so this is where the user can send from): its message budget can be kept locally.
   */
  onlyHere (userId: string): boolean {
    const workers = this.#userWorkers.get(userId)
    return workers === undefined || (workers.size === 1 && workers.has(this.#options.workerId))
  }

  /** Users online in a room (including those within their offline grace period). */
  members (room: string): Member[] {
    const users = this.#rooms.get(room)
    if (users === undefined) return []
    const members: Member[] = []
    for (const [userId, entry] of users) if (entry.online) members.push({ userId, username: entry.username })
    return members
  }

  #countUser (userId: string, workerId: string, delta: number): void {
    if (delta === 0) return
    let workers = this.#userWorkers.get(userId)
    if (workers === undefined) {
      workers = new Map()
      this.#userWorkers.set(userId, workers)
    }
    const count = (workers.get(workerId) ?? 0) + delta
    if (count > 0) workers.set(workerId, count)
    else workers.delete(workerId)
    if (workers.size === 0) this.#userWorkers.delete(userId)
  }

  /** Cancels timers; the process is going away. */
  close (): void {
    for (const users of this.#rooms.values()) {
      for (const entry of users.values()) clearTimeout(entry.offlineTimer)
    }
    this.#rooms.clear()
    this.#userWorkers.clear()
  }

  #changeLocal (room: string, userId: string, username: string, delta: number): void {
    const workerId = this.#options.workerId
    const current = this.#rooms.get(room)?.get(userId)?.counts.get(workerId) ?? 0
    const count = Math.max(0, current + delta)
    this.#set(room, userId, username, workerId, count)
    this.#outbox.push({ workerId, room, userId, username, count })
    if (!this.#outboxScheduled) {
      this.#outboxScheduled = true
      setImmediate(() => {
        this.#outboxScheduled = false
        const updates = this.#outbox
        this.#outbox = []
        this.#options.publish(updates)
      })
    }
  }

  #set (room: string, userId: string, username: string, workerId: string, count: number): void {
    let users = this.#rooms.get(room)
    let entry = users?.get(userId)
    if (entry === undefined) {
      if (count === 0) return
      entry = { username, counts: new Map(), online: false, offlineTimer: undefined }
      if (users === undefined) {
        users = new Map()
        this.#rooms.set(room, users)
      }
      users.set(userId, entry)
    }
    this.#countUser(userId, workerId, count - (entry.counts.get(workerId) ?? 0))
    if (count > 0) entry.counts.set(workerId, count)
    else entry.counts.delete(workerId)

    const online = entry.counts.size > 0
    if (online) {
      if (entry.offlineTimer !== undefined) {
        clearTimeout(entry.offlineTimer) // back within the grace period: nobody saw it leave
        entry.offlineTimer = undefined
      }
      if (!entry.online) {
        entry.online = true
        this.#options.emitLocal({ room, userId, username: entry.username, status: 'online' })
      }
      return
    }
    if (entry.offlineTimer !== undefined) return
    const goOffline = (): void => {
      const latest = this.#rooms.get(room)?.get(userId)
      if (latest === undefined || latest.counts.size > 0) return
      latest.offlineTimer = undefined
      this.#rooms.get(room)?.delete(userId)
      if (this.#rooms.get(room)?.size === 0) this.#rooms.delete(room)
      if (latest.online) this.#options.emitLocal({ room, userId, username: latest.username, status: 'offline' })
    }
    if (this.#options.graceMs === 0) goOffline()
    else entry.offlineTimer = setTimeout(goOffline, this.#options.graceMs).unref()
  }
}
