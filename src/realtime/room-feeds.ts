import type { Message } from '../protocol/schemas.js'
import type { MessageReader, RoomRef } from '../store/message-reader.js'

/**
 * Ordered delivery of each room's messages to this worker's sockets. Committed messages reach
 * every worker from the store's broadcast, in commit order; a feed still delivers seq n + 1 only
 * after n, whatever the source: a message that arrives early is held and the gap is filled from
 * the store at once (a committed seq implies every lower seq of the room is committed, since seq
 * is assigned under the store's write lock). A seq at or below the feed's cursor was delivered
 * already and is dropped, so each message reaches each socket exactly once, in order, even if
 * the delivery path ever changes (a store per VM, a Redis adapter).
 */

export interface RoomFeedsOptions {
  reader: MessageReader
  /** Emits one message to the room's local sockets. */
  emit: (message: Message) => void
  /** Called with the number of messages read from the store to fill a gap. */
  onGapFill?: (count: number) => void
  /** Called when the store does not hold a seq that a later committed message implies. */
  onMissing?: (room: string, seq: number) => void
}

interface Feed {
  room: RoomRef
  lastSeq: number
  holders: number
  early: Map<number, Message>
}

const FILL_PAGE = 500

export class RoomFeeds {
  readonly #feeds = new Map<number, Feed>()
  readonly #options: RoomFeedsOptions

  constructor (options: RoomFeedsOptions) {
    this.#options = options
  }

  /**
   * Takes a hold on a room's feed for a joining socket and returns the feed's cursor: every
   * message up to it was delivered before the socket joined, every later one will be delivered
   * to it. A new feed starts at the room's last committed seq.
   */
  acquire (room: RoomRef): number {
    let feed = this.#feeds.get(room.id)
    if (feed === undefined) {
      feed = { room, lastSeq: this.#options.reader.lastSeq(room.id), holders: 0, early: new Map() }
      this.#feeds.set(room.id, feed)
    }
    feed.holders++
    return feed.lastSeq
  }

  /** Releases a hold; the feed stops when no local socket is in the room. */
  release (roomId: number): void {
    const feed = this.#feeds.get(roomId)
    if (feed === undefined) return
    if (--feed.holders <= 0) this.#feeds.delete(roomId)
  }

  cursor (roomId: number): number | undefined {
    return this.#feeds.get(roomId)?.lastSeq
  }

  get size (): number {
    return this.#feeds.size
  }

  /** Offers one committed message; delivers it (and anything it unblocks) in seq order. */
  offer (roomId: number, message: Message): void {
    const feed = this.#feeds.get(roomId)
    if (feed === undefined || message.seq <= feed.lastSeq) return
    if (message.seq === feed.lastSeq + 1) {
      this.#deliver(feed, message)
      this.#drainEarly(feed)
      return
    }
    feed.early.set(message.seq, message)
    this.#fill(feed, message.seq)
  }

  /**
   * Catches every feed up with the store: a safety net (run every couple of seconds) for a
   * message that was committed but whose broadcast never arrived. Cheap: one indexed query for
   * all rooms.
   */
  reconcile (): number {
    if (this.#feeds.size === 0) return 0
    const lastSeqs = this.#options.reader.lastSeqs([...this.#feeds.keys()])
    let filled = 0
    for (const feed of this.#feeds.values()) {
      const storeSeq = lastSeqs.get(feed.room.id) ?? 0
      if (storeSeq > feed.lastSeq) filled += this.#fill(feed, storeSeq + 1)
    }
    return filled
  }

  #deliver (feed: Feed, message: Message): void {
    feed.lastSeq = message.seq
    this.#options.emit(message)
  }

  #drainEarly (feed: Feed): void {
    for (let next = feed.early.get(feed.lastSeq + 1); next !== undefined; next = feed.early.get(feed.lastSeq + 1)) {
      feed.early.delete(next.seq)
      this.#deliver(feed, next)
    }
    if (feed.early.size > 0) {
      // Anything held at or below the cursor was delivered from the store meanwhile.
      for (const seq of feed.early.keys()) if (seq <= feed.lastSeq) feed.early.delete(seq)
    }
  }

  /** Delivers every message with seq below `until` from the store, then whatever was held. */
  #fill (feed: Feed, until: number): number {
    let filled = 0
    while (feed.lastSeq + 1 < until) {
      const page = this.#options.reader.after(feed.room, feed.lastSeq, until, FILL_PAGE)
      const before = feed.lastSeq
      for (const message of page.messages) {
        if (message.seq !== feed.lastSeq + 1) break
        feed.early.delete(message.seq)
        this.#deliver(feed, message)
        filled++
      }
      if (feed.lastSeq === before) {
        // The store lacks seq lastSeq + 1. Impossible while seq is assigned under the write
        // lock; report it and skip ahead rather than stall the room forever.
        this.#options.onMissing?.(feed.room.name, feed.lastSeq + 1)
        feed.lastSeq = (page.messages[0]?.seq ?? until) - 1
      }
    }
    if (filled > 0) this.#options.onGapFill?.(filled)
    this.#drainEarly(feed)
    return filled
  }
}
