import type { MessageReader, RoomRef } from '../store/message-reader.js'
import type { StoreClient } from '../store/store-client.js'

/**
 * Room names to store ids, cached per worker (rooms are never deleted, so a cached id stays
 * right). A room that does not exist is created on first join, through the store thread.
 */
export class RoomDirectory {
  readonly #cache = new Map<string, RoomRef>()
  readonly #creating = new Map<string, Promise<RoomRef>>()
  readonly #reader: MessageReader
  readonly #writer: StoreClient
  readonly #maxCached: number

  constructor (reader: MessageReader, writer: StoreClient, maxCached = 100_000) {
    this.#reader = reader
    this.#writer = writer
    this.#maxCached = maxCached
  }

  /** The room if it exists (from the cache or the store), else undefined. */
  find (name: string): RoomRef | undefined {
    const cached = this.#cache.get(name)
    if (cached !== undefined) return cached
    const found = this.#reader.findRoom(name)
    if (found === undefined) return undefined
    return this.#remember({ id: found.id, name })
  }

  /** The room, created if needed. */
  async ensure (name: string): Promise<RoomRef> {
    const existing = this.find(name)
    if (existing !== undefined) return existing
    let creating = this.#creating.get(name)
    if (creating === undefined) {
      creating = this.#writer.run({ kind: 'room', name })
        .then((result) => this.#remember({ id: result.id, name }))
        .finally(() => this.#creating.delete(name))
      this.#creating.set(name, creating)
    }
    return await creating
  }

  #remember (room: RoomRef): RoomRef {
    if (this.#cache.size >= this.#maxCached) {
      const oldest = this.#cache.keys().next().value
      if (oldest !== undefined) this.#cache.delete(oldest)
    }
    this.#cache.set(room.name, room)
    return room
  }
}
