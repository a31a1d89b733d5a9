import type { Message } from '../protocol/schemas.js'
import type { RoomRef, StoreReader } from '../store/store.js'

/**
 * Ordered delivery of each room's messages to this worker's sockets. Committed messages reach
 * every worker from the store's writer, in commit order, and, with several VMs, from the other
 * VMs through Redis, in any order or not at all. A feed delivers seq n + 1 only after n,
 * whatever the source: a message that arrives early is held and the gap is filled from the
 * store (a committed seq implies every lower seq of the room is committed, since seq is assigned
 * under the room's lock). A seq at or below the feed's cursor was delivered already and is
 * dropped, so each message reaches each socket exactly once, in order.
 *
 * Store reads are asynchronous (a network store). While a feed starts (its first cursor is being
 * read) or fills a gap, what arrives is held and delivered in order afterwards. A joining socket
 * records what its feed delivers between the cursor it was given and the moment it enters the
 * room (`watch`), so it gets those messages from memory, in the same synchronous step as it
 * joins: no message missed, none twice.
 */

export interface RoomFeedsOptions {
  reader: StoreReader
  /** Emits one message to the room's local sockets. */
  emit: (message: Message) => void
  /** Sends what emit() queued; called after deliveries that happen outside a caller's turn. */
  flush: () => void
  /** Called with the number of messages read from the store to fill a gap. */
  onGapFill?: (count: number) => void
  /** Called when the store does not hold a seq that a later committed message implies. */
  onMissing?: (room: string, seq: number) => void
  /** A store read of a feed failed (it is retried by the next reconcile). */
  onError?: (error: unknown, room: string) => void
  /**
   * How long a gap may wait for its missing messages to arrive by themselves before the store
   * is read (0: at once). Messages from several VMs arrive out of order; most gaps close alone.
   */
  gapWaitMs?: number
}

interface Feed {
  room: RoomRef
  /** The last seq delivered; -1 until the first cursor is read. */
  lastSeq: number
  holders: number
  early: Map<number, Message>
  /** Resolves once the first cursor is known. */
  ready: Promise<void>
  /** A store read for a gap is in flight; `fillUntil` is how far it must go. */
  filling: boolean
  fillUntil: number
  /** Joins in progress (their cursors) and the messages delivered since the lowest one. */
  watchers: Map<number, number>
  recent: Message[]
  /** A fill waiting `gapWaitMs` for the gap to close by itself. */
  fillTimer: NodeJS.Timeout | undefined
}

/** A joining socket's view of its feed: what was delivered after its cursor, until it joins. */
export interface FeedWatch {
  /** Messages the feed delivered after the cursor (oldest first); ends the watch. */
  take: () => Message[]
  /** Ends the watch without taking anything (the join failed). */
  end: () => void
}

const FILL_PAGE = 500
const STARTING = -1

export class RoomFeeds {
  readonly #feeds = new Map<number, Feed>()
  readonly #options: RoomFeedsOptions
  #nextWatch = 1

  constructor (options: RoomFeedsOptions) {
    this.#options = options
  }

  /**
   * Takes a hold on a room's feed for a joining socket: the feed's cursor (every message up to it
   * was delivered before, every later one will be) and a watch that records the later ones until
   * the socket is in the room, both taken in one synchronous step. A new feed starts at the
   * room's last committed seq.
   */
  async acquire (room: RoomRef): Promise<{ cursor: number, watch: FeedWatch }> {
    let feed = this.#feeds.get(room.id)
    if (feed === undefined) {
      const created: Feed = {
        room,
        lastSeq: STARTING,
        holders: 0,
        early: new Map(),
        ready: Promise.resolve(),
        filling: false,
        fillUntil: 0,
        watchers: new Map(),
        recent: [],
        fillTimer: undefined
      }
      created.ready = this.#start(created)
      feed = created
      this.#feeds.set(room.id, feed)
    }
    feed.holders++
    try {
      await feed.ready
    } catch (error) {
      feed.holders--
      throw error
    }
    return { cursor: feed.lastSeq, watch: this.#watch(room.id, feed.lastSeq) }
  }

  async #start (feed: Feed): Promise<void> {
    try {
      const lastSeq = await this.#options.reader.lastSeq(feed.room.id)
      // Held messages at or below it are committed and were before this feed existed.
      feed.lastSeq = lastSeq
    } catch (error) {
      // Every acquirer gets the error; the feed goes so the next join starts afresh.
      if (this.#feeds.get(feed.room.id) === feed) this.#feeds.delete(feed.room.id)
      throw error
    }
    for (const seq of feed.early.keys()) if (seq <= feed.lastSeq) feed.early.delete(seq)
    this.#drainEarly(feed)
    this.#options.flush()
    const highest = Math.max(0, ...feed.early.keys())
    if (highest > feed.lastSeq + 1) void this.#fill(feed, highest)
  }

  /**
   * Records what the room's feed delivers after `cursor` until `take()` or `end()`: a joining
   * socket gets it from memory when it enters the room.
   */
  #watch (roomId: number, cursor: number): FeedWatch {
    const feed = this.#feeds.get(roomId)
    if (feed === undefined) return { take: () => [], end: () => {} }
    const id = this.#nextWatch++
    feed.watchers.set(id, cursor)
    const end = (): void => {
      if (!feed.watchers.delete(id)) return
      if (feed.watchers.size === 0) {
        feed.recent = []
        return
      }
      const lowest = Math.min(...feed.watchers.values())
      const keepFrom = feed.recent.findIndex((message) => message.seq > lowest)
      feed.recent = keepFrom < 0 ? [] : feed.recent.slice(keepFrom)
    }
    return {
      take: () => {
        const taken = feed.recent.filter((message) => message.seq > cursor)
        end()
        return taken
      },
      end
    }
  }

  /** Releases a hold; the feed stops when no local socket is in the room. */
  release (roomId: number): void {
    const feed = this.#feeds.get(roomId)
    if (feed === undefined) return
    if (--feed.holders > 0) return
    clearTimeout(feed.fillTimer)
    this.#feeds.delete(roomId)
  }

  cursor (roomId: number): number | undefined {
    const feed = this.#feeds.get(roomId)
    return feed === undefined || feed.lastSeq === STARTING ? undefined : feed.lastSeq
  }

  get size (): number {
    return this.#feeds.size
  }

  /** Offers one committed message; delivers it (and anything it unblocks) in seq order. */
  offer (roomId: number, message: Message): void {
    const feed = this.#feeds.get(roomId)
    if (feed === undefined || message.seq <= feed.lastSeq) return
    if (feed.lastSeq !== STARTING && message.seq === feed.lastSeq + 1) {
      this.#deliver(feed, message)
      this.#drainEarly(feed)
      return
    }
    feed.early.set(message.seq, message)
    if (feed.lastSeq === STARTING) return
    const waitMs = this.#options.gapWaitMs ?? 0
    if (waitMs === 0) {
      void this.#fill(feed, message.seq)
    } else if (feed.fillTimer === undefined) {
      feed.fillTimer = setTimeout(() => {
        feed.fillTimer = undefined
        if (feed.early.size > 0) void this.#fill(feed, Math.max(...feed.early.keys()))
      }, waitMs)
      feed.fillTimer.unref()
    }
  }

  /**
   * Catches every feed up with the store: the safety net (run every couple of seconds, and after
   * a cross-VM subscription comes back) for a message that was committed but whose broadcast
   * never arrived. One indexed query for all rooms; resolves with how many messages it filled.
   */
  async reconcile (): Promise<number> {
    if (this.#feeds.size === 0) return 0
    const lastSeqs = await this.#options.reader.lastSeqs([...this.#feeds.keys()])
    const fills: Array<Promise<number>> = []
    for (const feed of this.#feeds.values()) {
      const storeSeq = lastSeqs.get(feed.room.id) ?? 0
      if (feed.lastSeq !== STARTING && storeSeq > feed.lastSeq) fills.push(this.#fill(feed, storeSeq + 1))
    }
    return (await Promise.all(fills)).reduce((sum, count) => sum + count, 0)
  }

  #deliver (feed: Feed, message: Message): void {
    feed.lastSeq = message.seq
    if (feed.watchers.size > 0) feed.recent.push(message)
    this.#options.emit(message)
  }

  #drainEarly (feed: Feed): void {
    if (feed.early.size === 0) return
    for (let next = feed.early.get(feed.lastSeq + 1); next !== undefined; next = feed.early.get(feed.lastSeq + 1)) {
      feed.early.delete(next.seq)
      this.#deliver(feed, next)
    }
    // Anything held at or below the cursor was delivered from the store meanwhile.
    for (const seq of feed.early.keys()) if (seq <= feed.lastSeq) feed.early.delete(seq)
  }

  /**
   * Delivers every message with seq below `until` from the store, then whatever was held. One
   * fill per feed at a time: a fill asked for while one runs extends it. Resolves with how many
   * messages came from the store.
   */
  async #fill (feed: Feed, until: number): Promise<number> {
    feed.fillUntil = Math.max(feed.fillUntil, until)
    if (feed.filling) return 0
    feed.filling = true
    let filled = 0
    try {
      while (feed.lastSeq + 1 < feed.fillUntil && this.#feeds.get(feed.room.id) === feed) {
        const from = feed.lastSeq
        const page = await this.#options.reader.after(feed.room, from, feed.fillUntil, FILL_PAGE)
        for (const message of page.messages) {
          if (message.seq <= feed.lastSeq) continue
          if (message.seq !== feed.lastSeq + 1) break
          feed.early.delete(message.seq)
          this.#deliver(feed, message)
          filled++
        }
        this.#drainEarly(feed)
        if (feed.lastSeq === from && feed.lastSeq + 1 < feed.fillUntil) {
          // The store lacks seq lastSeq + 1 although a higher one is committed. Impossible while
          // seq is assigned under the room's lock; report it and skip ahead rather than stall.
          this.#options.onMissing?.(feed.room.name, feed.lastSeq + 1)
          feed.lastSeq = (page.messages[0]?.seq ?? feed.fillUntil) - 1
          this.#drainEarly(feed)
        }
        // Sent in this same turn: a socket joining later must not get them from its watch too.
        this.#options.flush()
      }
    } catch (error) {
      this.#options.onError?.(error, feed.room.name)
    } finally {
      feed.filling = false
      if (filled > 0) this.#options.onGapFill?.(filled)
      this.#options.flush()
    }
    return filled
  }
}
