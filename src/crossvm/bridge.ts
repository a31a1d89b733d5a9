import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { Eviction } from '../realtime/evictions.js'
import type { PresenceUpdate } from '../realtime/presence.js'
import type { CommittedMessage } from '../store/write-ops.js'
import { closeRedis, connectRedis, EVENTS_CHANNEL, MESSAGES_CHANNEL } from './redis.js'

/**
 * A worker's link to the other VMs (REDIS_URL). Inside a VM the cluster adapter carries
 * everything; between VMs each worker subscribes to two Redis channels:
 * - `chat:messages`: every VM's committed messages (published by each VM's writer). The room
 *   feeds order them by seq, drop what they have, and fill a gap from the store, so Redis may
 *   lose, reorder or repeat them. Every resubscription (Redis back, empty or not) is followed by
 *   a catch-up of every live room from the store.
 * - `chat:events`: presence, typing, deletions, role changes and evictions of other VMs.
 * A VM ignores its own publications (its workers got them through the cluster adapter).
 *
 * A subscription can die silently (a proxy that drops it, a Redis that lost its state without
 * closing the connection): every REDIS_PROBE_INTERVAL_MS the worker publishes a ping to a
 * channel only it listens to, and when one does not come back within two intervals it drops the
 * subscriber connection, which reconnects, resubscribes and catches up.
 *
 * Presence of a VM that vanishes (killed, cut off) must not stay forever: every worker
 * publishes a heartbeat, and the presence counts of a worker not heard for PRESENCE_EXPIRY_MS
 * are dropped.
 */

/** A Socket.IO event for a room's sockets, relayed as is. */
export interface RoomEvent {
  room: string
  event: 'typing' | 'message:deleted' | 'room:role'
  payload: unknown
}

export type CrossVmEvent =
  | { kind: 'room', worker: string, relay: RoomEvent }
  | { kind: 'presence', worker: string, updates: PresenceUpdate[] }
  /** A worker (re)joined: every worker publishes its presence counts again. */
  | { kind: 'presence-sync', worker: string }
  | { kind: 'evict', worker: string, eviction: Eviction }
  | { kind: 'heartbeat', worker: string }

export interface CrossVmHandlers {
  /** Committed messages of another VM. */
  messages: (messages: CommittedMessage[]) => void
  /** The subscription is (back) up: catch every live room up with the store. */
  catchUp: () => void
  room: (relay: RoomEvent) => void
  presence: (updates: PresenceUpdate[]) => void
  /** This worker's presence counts, to publish for a worker that asks. */
  presenceSnapshot: () => PresenceUpdate[]
  evict: (eviction: Eviction) => void
  /** A remote worker has not been heard for too long: forget its presence. */
  workerGone: (worker: string) => void
}

export interface CrossVmBridgeOptions {
  url: string
  vmId: string
  /** This worker, unique across VMs (`vmId/workerId`), as its presence counts name it. */
  worker: string
  logger: Logger
  probeIntervalMs: number
  handlers: CrossVmHandlers
  /** Hears a connection going up or down. */
  onState?: (role: 'subscriber' | 'publisher', up: boolean) => void
  /** Hears messages received from other VMs and how old the newest one is. */
  onReceived?: (count: number, lagMs: number) => void
  onProbeFailed?: () => void
  onResubscribed?: () => void
  onPublishFailed?: () => void
}

const HEARTBEAT_INTERVAL_MS = 5000
const PRESENCE_EXPIRY_MS = 15_000

export class CrossVmBridge {
  readonly #options: CrossVmBridgeOptions
  readonly #subscriber: Redis
  readonly #publisher: Redis
  readonly #probeChannel: string
  readonly #prefix: string
  readonly #lastHeard = new Map<string, number>()
  readonly #timers: NodeJS.Timeout[] = []
  #probeSent = 0
  #probeSentAt = 0
  #probeHeard = 0
  #subscribedOnce = false
  #closed = false

  constructor (options: CrossVmBridgeOptions) {
    this.#options = options
    this.#prefix = `${options.vmId}\n`
    this.#probeChannel = `chat:probe:${options.worker}`
    this.#publisher = connectRedis({
      url: options.url,
      role: 'publisher',
      logger: options.logger,
      onState: (up) => options.onState?.('publisher', up)
    })
    this.#subscriber = connectRedis({
      url: options.url,
      role: 'subscriber',
      logger: options.logger,
      queueWhileDown: true,
      onState: (up) => {
        options.onState?.('subscriber', up)
        if (up) this.#subscribed()
      }
    })
    this.#subscriber.subscribe(MESSAGES_CHANNEL, EVENTS_CHANNEL, this.#probeChannel).catch(() => {})
    this.#subscriber.on('message', (channel: string, payload: string) => this.#heard(channel, payload))
    this.#timers.push(setInterval(() => this.#probe(), options.probeIntervalMs).unref())
    this.#timers.push(setInterval(() => this.#heartbeat(), HEARTBEAT_INTERVAL_MS).unref())
  }

  /** Relays an event for a room's sockets to the other VMs. */
  relay (relay: RoomEvent): void {
    this.#publish({ kind: 'room', worker: this.#options.worker, relay })
  }

  presence (updates: PresenceUpdate[]): void {
    if (updates.length > 0) this.#publish({ kind: 'presence', worker: this.#options.worker, updates })
  }

  evict (eviction: Eviction): void {
    this.#publish({ kind: 'evict', worker: this.#options.worker, eviction })
  }

  /** Whether both connections are up. */
  get connected (): boolean {
    return this.#subscriber.status === 'ready' && this.#publisher.status === 'ready'
  }

  #publish (event: CrossVmEvent): void {
    if (this.#closed) return
    this.#publisher.publish(EVENTS_CHANNEL, this.#prefix + JSON.stringify(event)).catch(() => this.#options.onPublishFailed?.())
  }

  /** Every (re)subscription: catch up from the store, and exchange presence afresh. */
  #subscribed (): void {
    if (this.#subscribedOnce) this.#options.onResubscribed?.()
    this.#subscribedOnce = true
    this.#probeSentAt = 0
    // ioredis resubscribes on 'ready'; the catch-up waits a moment so it reads after that.
    setTimeout(() => {
      if (this.#closed) return
      this.#options.handlers.catchUp()
      this.presence(this.#options.handlers.presenceSnapshot())
      this.#publish({ kind: 'presence-sync', worker: this.#options.worker })
    }, 100).unref()
  }

  #heard (channel: string, payload: string): void {
    if (channel === this.#probeChannel) {
      this.#probeHeard = Math.max(this.#probeHeard, Number(payload))
      return
    }
    if (payload.startsWith(this.#prefix)) return // this VM's own
    const body = payload.slice(payload.indexOf('\n') + 1)
    try {
      if (channel === MESSAGES_CHANNEL) {
        const messages = JSON.parse(body) as CommittedMessage[]
        const newest = messages[messages.length - 1]
        this.#options.onReceived?.(messages.length, newest === undefined ? 0 : Math.max(0, Date.now() - newest[1].ts))
        this.#options.handlers.messages(messages)
        return
      }
      const event = JSON.parse(body) as CrossVmEvent
      this.#lastHeard.set(event.worker, Date.now())
      switch (event.kind) {
        case 'room': this.#options.handlers.room(event.relay); break
        case 'presence': this.#options.handlers.presence(event.updates); break
        case 'presence-sync': this.presence(this.#options.handlers.presenceSnapshot()); break
        case 'evict': this.#options.handlers.evict(event.eviction); break
        case 'heartbeat': break
      }
    } catch (error) {
      this.#options.logger.warn({ err: error, channel }, 'unreadable cross-VM publication ignored')
    }
  }

  /** Sends a ping to this worker's own channel; drops the subscription if the last one never came back. */
  #probe (): void {
    if (this.#closed || this.#subscriber.status !== 'ready' || this.#publisher.status !== 'ready') return
    const now = Date.now()
    if (this.#probeSentAt !== 0 && this.#probeHeard < this.#probeSent && now - this.#probeSentAt > 2 * this.#options.probeIntervalMs) {
      this.#options.logger.warn({ probe: this.#probeSent }, 'redis subscription heard nothing back; resubscribing')
      this.#options.onProbeFailed?.()
      this.#probeSentAt = 0
      this.#subscriber.disconnect(true)
      return
    }
    if (this.#probeSentAt !== 0 && this.#probeHeard < this.#probeSent) return // still waiting
    const n = ++this.#probeSent
    this.#probeSentAt = now
    this.#publisher.publish(this.#probeChannel, String(n)).catch(() => { this.#probeSentAt = 0 })
  }

  #heartbeat (): void {
    this.#publish({ kind: 'heartbeat', worker: this.#options.worker })
    const now = Date.now()
    for (const [worker, at] of this.#lastHeard) {
      if (now - at < PRESENCE_EXPIRY_MS) continue
      this.#lastHeard.delete(worker)
      this.#options.handlers.workerGone(worker)
    }
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const timer of this.#timers) clearInterval(timer)
    await Promise.all([closeRedis(this.#subscriber), closeRedis(this.#publisher)])
  }
}
