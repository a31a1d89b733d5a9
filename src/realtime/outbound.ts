import type { Socket as TcpSocket } from 'node:net'

/**
 * The outbound side of every Engine.IO connection of this process, adjusted in two ways:
 *
 * - Coalescing: Engine.IO writes each packet as soon as the transport is writable, one WebSocket
 *   frame and one system call each. Here a flush waits for the end of the current JavaScript
 *   turn (a microtask) and the TCP socket is corked around it, so every packet queued in one
 *   turn (a whole transaction's broadcasts) leaves in one write.
 * - A bound: Engine.IO's write buffer grows without limit behind a client that does not read.
 *   Past `maxPackets` queued packets or `maxBytes` queued bytes the connection is cut, and the
 *   client recovers what it missed with `since` after it reconnects.
 *
 * Both are installed once on Engine.IO's Socket prototype (flush and sendPacket), with the few
 * counters they need kept on each socket: nothing per connection but three numbers, which
 * matters at tens of thousands of connections. Engine.IO's flush(), sendPacket(), writeBuffer,
 * transport and ws's _socket are internals (engine.io 6.6, ws 8): test/slow-consumer.test.ts
 * pins the bound, and scripts/bench-scale.ts measures coalescing (its `ours-w2-nocoalesce` run,
 * WRITE_COALESCING=false).
 */

export interface OutboundLimits {
  maxPackets: number
  maxBytes: number
  coalesce: boolean
}

/** The parts of engine.io's Socket this module touches. */
export interface EngineSocketInternals {
  id: string
  readyState: string
  writeBuffer: unknown[]
  transport: { name: string, socket?: { bufferedAmount?: number, _socket?: TcpSocket, terminate?: () => void } }
  flush: () => void
  close: (discard?: boolean) => void
}

export interface OutboundStats {
  packets: number
  bytes: number
}

interface Tracked extends EngineSocketInternals {
  [queuedBytes]?: number
  [scheduled]?: boolean
  [overflowed]?: boolean
}

type SendPacket = (this: Tracked, type: string, data?: unknown, options?: unknown, callback?: unknown) => void

const original = Symbol('outboundOriginals')
const queuedBytes = Symbol('queuedBytes')
const scheduled = Symbol('flushScheduled')
const overflowed = Symbol('overflowed')

function transportBufferedBytes (socket: EngineSocketInternals): number {
  return socket.transport.name === 'websocket' ? socket.transport.socket?.bufferedAmount ?? 0 : 0
}

/** Cuts a connection at once, without waiting to flush what it has not read. */
export function terminate (socket: EngineSocketInternals): void {
  const ws = socket.transport.socket
  if (socket.transport.name === 'websocket' && typeof ws?.terminate === 'function') ws.terminate()
  else socket.close(true)
}

/**
 * Cuts a connection whose unsent backlog passed its bound, once: `onOverflow` hears it, later
 * writes to it are dropped by the caller (`isCut`).
 */
export function cutForBacklog (socket: EngineSocketInternals, stats: OutboundStats, onOverflow: (socket: EngineSocketInternals, stats: OutboundStats) => void): void {
  const tracked = socket as Tracked
  if (tracked[overflowed] === true) return
  tracked[overflowed] = true
  onOverflow(socket, stats)
  terminate(socket)
}

/** True once cutForBacklog cut this connection. */
export function isCut (socket: EngineSocketInternals): boolean {
  return (socket as Tracked)[overflowed] === true
}

/**
 * Installs coalescing and the bound on Engine.IO's Socket class (once per process; a second call
 * replaces the limits). `onOverflow` hears each socket cut for its backlog.
 */
export function installOutbound (EngineSocket: { prototype: object }, limits: OutboundLimits, onOverflow: (socket: EngineSocketInternals, stats: OutboundStats) => void): void {
  const proto = EngineSocket.prototype as Tracked & { sendPacket: SendPacket, [original]?: { flush: () => void, sendPacket: SendPacket } }
  const originals = proto[original] ?? { flush: proto.flush, sendPacket: proto.sendPacket }
  proto[original] = originals

  const flushNow = function (this: Tracked): void {
    this[scheduled] = false
    const tcp = this.transport.name === 'websocket' ? this.transport.socket?._socket : undefined
    tcp?.cork()
    try {
      originals.flush.call(this)
    } finally {
      tcp?.uncork()
    }
    if (this.writeBuffer.length === 0) this[queuedBytes] = 0
  }

  proto.flush = limits.coalesce
    ? function (this: Tracked): void {
      if (this[scheduled] === true) return
      this[scheduled] = true
      queueMicrotask(() => flushNow.call(this))
    }
    : flushNow

  proto.sendPacket = function (this: Tracked, type, data, options, callback): void {
    if (typeof data === 'string') this[queuedBytes] = (this[queuedBytes] ?? 0) + data.length
    originals.sendPacket.call(this, type, data, options, callback)
    if (this[overflowed] === true) return
    const packets = this.writeBuffer.length
    const bytes = (this[queuedBytes] ?? 0) + transportBufferedBytes(this)
    if (packets > limits.maxPackets || bytes > limits.maxBytes) cutForBacklog(this, { packets, bytes }, onOverflow)
  }
}
