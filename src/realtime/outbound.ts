import type { Socket as TcpSocket } from 'node:net'

/**
 * The outbound side of one Engine.IO connection, adjusted in two ways:
 *
 * - Coalescing: Engine.IO writes each packet as soon as the transport is writable, one WebSocket
 *   frame and one system call each. Here a flush waits for the end of the current JavaScript
 *   turn (a microtask) and the TCP socket is corked around it, so every packet queued in one
 *   turn (a whole group commit's broadcasts) leaves in one write.
 * - A bound: Engine.IO's write buffer grows without limit behind a client that does not read.
 *   Past `maxPackets` queued packets or `maxBytes` queued bytes the connection is cut, and the
 *   client recovers what it missed with `since` after it reconnects.
 *
 * Engine.IO's flush(), writeBuffer, transport and ws's _socket are internals (engine.io 6.6,
 * ws 8); test/outbound-bound.test.ts and test/write-coalescing.test.ts pin the behaviour.
 */

export interface OutboundLimits {
  maxPackets: number
  maxBytes: number
  coalesce: boolean
}

interface EnginePacket { type: string, data?: unknown }

/** The parts of engine.io's Socket this module touches. */
export interface EngineSocketInternals {
  id: string
  readyState: string
  writeBuffer: EnginePacket[]
  transport: { name: string, socket?: { bufferedAmount?: number, _socket?: TcpSocket, terminate?: () => void } }
  flush: () => void
  close: (discard?: boolean) => void
  on: (event: string, listener: (...args: any[]) => void) => unknown
}

export interface OutboundStats {
  packets: number
  bytes: number
}

function transportBufferedBytes (socket: EngineSocketInternals): number {
  return socket.transport.name === 'websocket' ? socket.transport.socket?.bufferedAmount ?? 0 : 0
}

/** Cuts a connection at once, without waiting to flush what it has not read. */
export function terminate (socket: EngineSocketInternals): void {
  const ws = socket.transport.socket
  if (socket.transport.name === 'websocket' && typeof ws?.terminate === 'function') ws.terminate()
  else socket.close(true)
}

/** Installs coalescing and the bound on a new engine connection. */
export function manageOutbound (socket: EngineSocketInternals, limits: OutboundLimits, onOverflow: (stats: OutboundStats) => void): void {
  let queuedBytes = 0
  let overflowed = false

  if (limits.coalesce) {
    const flushNow = socket.flush.bind(socket)
    let scheduled = false
    const run = (): void => {
      scheduled = false
      const tcp = socket.transport.name === 'websocket' ? socket.transport.socket?._socket : undefined
      tcp?.cork()
      try {
        flushNow()
      } finally {
        tcp?.uncork()
      }
    }
    socket.flush = () => {
      if (scheduled) return
      scheduled = true
      queueMicrotask(run)
    }
  }

  socket.on('packetCreate', (packet: EnginePacket) => {
    if (typeof packet.data === 'string') queuedBytes += packet.data.length
    if (overflowed) return
    const packets = socket.writeBuffer.length
    const bytes = queuedBytes + transportBufferedBytes(socket)
    if (packets > limits.maxPackets || bytes > limits.maxBytes) {
      overflowed = true
      onOverflow({ packets, bytes })
      terminate(socket)
    }
  })
  socket.on('flush', () => {
    queuedBytes = 0
  })
}
