import type { RoomInfo, StoreReader } from '../store/store.js'

/**
 * Room names to store ids and visibility, cached per worker: rooms are never deleted and their
 * visibility never changes, so a cached entry stays right. Who may enter a room (memberships,
 * bans) changes and is never cached: it is read from the store each time it is needed.
 */
export class RoomDirectory {
  readonly #cache = new Map<string, RoomInfo>()
  readonly #reader: StoreReader
  readonly #maxCached: number

  constructor (reader: StoreReader, maxCached = 100_000) {
    this.#reader = reader
    this.#maxCached = maxCached
  }

  /** The room if it exists (from the cache or the store), else undefined. */
  async find (name: string): Promise<RoomInfo | undefined> {
    const cached = this.#cache.get(name)
    if (cached !== undefined) return cached
    const found = await this.#reader.roomInfo(name)
    if (found === undefined) return undefined
    return this.remember(found)
  }

  /** Caches a room the store just created or described. */
  remember (room: RoomInfo): RoomInfo {
    if (this.#cache.size >= this.#maxCached) {
      const oldest = this.#cache.keys().next().value
      if (oldest !== undefined) this.#cache.delete(oldest)
    }
    this.#cache.set(room.name, room)
    return room
  }
}
