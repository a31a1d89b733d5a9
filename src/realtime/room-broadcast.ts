import type { Message } from '../protocol/schemas.js'
import { cutForBacklog, isCut, type EngineSocketInternals, type OutboundStats } from './outbound.js'
import { roomKey, type ChatServer } from './types.js'

/**
 * Delivery of committed messages to this worker's sockets, cheaper than a Socket.IO broadcast
 * per message. Messages offered together (a commit's) are grouped by room; each message is
 * encoded once (JSON, the Engine.IO/Socket.IO packet text and its WebSocket frame, all in one
 * buffer), and each socket of the room gets every new message of the turn in one write.
 *
 * A socket whose Engine.IO connection has nothing queued takes the frames straight onto its TCP
 * socket: Engine.IO's own writes reach the same TCP socket synchronously, in call order, so
 * order is kept without passing each frame through Engine.IO's packet and flush machinery.
 * Anything else (a long-polling client, an upgrade in progress, packets waiting in Engine.IO's
 * write buffer) goes through Engine.IO with the frame pre-encoded, behind what is queued. Server
 * frames are unmasked and uncompressed (perMessageDeflate is off), so one frame serves every
 * socket. The unread-backlog bound of outbound.ts applies to both ways.
 */

export interface RoomBroadcastOptions {
  io: ChatServer
  /** A socket whose unsent bytes pass this is cut (it recovers with `since`). */
  maxBytes: number
  onOverflow: (socket: EngineSocketInternals, stats: OutboundStats) => void
  /** Hears how many deliveries each room's batch made, and how many of them went straight to TCP. */
  onDelivered: (count: number, direct: number) => void
}

/** The parts of Engine.IO's socket and ws's WebSocket this module reads. */
interface EngineConnection extends EngineSocketInternals {
  upgrading: boolean
  write: (data: string, options?: { wsPreEncodedFrame?: Buffer[] }) => void
  transport: EngineSocketInternals['transport'] & {
    socket?: { readyState?: number, _sender?: { _state?: number, _queue?: unknown[] } }
  }
}

const WS_OPEN = 1
const SENDER_IDLE = 0

/** One WebSocket text frame (FIN, opcode 1, unmasked) holding `text`, in one buffer. */
export function textFrame (text: string): Buffer {
  const length = Buffer.byteLength(text)
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10
  const frame = Buffer.allocUnsafe(header + length)
  frame[0] = 0x81
  if (header === 2) {
    frame[1] = length
  } else if (header === 4) {
    frame[1] = 126
    frame.writeUInt16BE(length, 2)
  } else {
    frame[1] = 127
    frame.writeUInt32BE(0, 2)
    frame.writeUInt32BE(length, 6)
  }
  frame.write(text, header, 'utf8')
  return frame
}

interface RoomBatch {
  /** Socket.IO packets, as Engine.IO's `write` takes them. */
  packets: string[]
  /** Their WebSocket frames, Engine.IO packet type included. */
  frames: Buffer[]
}

export class RoomBroadcast {
  readonly #options: RoomBroadcastOptions
  #pending = new Map<string, RoomBatch>()

  constructor (options: RoomBroadcastOptions) {
    this.#options = options
  }

  /**
   * Queues one message for the room's sockets; `flush()` writes it. The caller flushes in the
   * same synchronous step (after a whole commit's messages): the room's members are read then,
   * so a socket that joins later, with the message in its join's `missed`, does not get it twice.
   */
  offer (message: Message): void {
    const key = roomKey(message.room)
    let batch = this.#pending.get(key)
    if (batch === undefined) {
      batch = { packets: [], frames: [] }
      this.#pending.set(key, batch)
    }
    // A Socket.IO EVENT packet (2) of the default namespace; on the wire it is the data of an
    // Engine.IO message packet (4), which Engine.IO prefixes itself when it sends the packet.
    const packet = `2${JSON.stringify(['message', message])}`
    batch.packets.push(packet)
    batch.frames.push(textFrame(`4${packet}`))
  }

  /** Writes everything queued. */
  flush (): void {
    const pending = this.#pending
    if (pending.size === 0) return
    this.#pending = new Map()
    const { io } = this.#options
    const sockets = io.of('/').sockets
    const rooms = io.of('/').adapter.rooms
    for (const [key, batch] of pending) {
      const members = rooms.get(key)
      if (members === undefined) continue
      const combined = batch.frames.length === 1 ? batch.frames[0] as Buffer : Buffer.concat(batch.frames)
      let delivered = 0
      let direct = 0
      for (const id of members) {
        const conn = sockets.get(id)?.conn as unknown as EngineConnection | undefined
        if (conn === undefined) continue
        if (this.#write(conn, batch, combined)) direct += batch.packets.length
        delivered += batch.packets.length
      }
      this.#options.onDelivered(delivered, direct)
    }
  }

  /** Writes the batch to one connection; true when it went straight onto the TCP socket. */
  #write (conn: EngineConnection, batch: RoomBatch, combined: Buffer): boolean {
    if (conn.readyState !== 'open' || isCut(conn)) return false
    const transport = conn.transport
    const ws = transport.socket
    const tcp = ws?._socket
    if (transport.name === 'websocket' && !conn.upgrading && conn.writeBuffer.length === 0 && ws?.readyState === WS_OPEN &&
      ws._sender?._state === SENDER_IDLE && ws._sender._queue?.length === 0 && tcp !== undefined && tcp.writable) {
      tcp.write(combined)
      const bytes = tcp.writableLength
      if (bytes > this.#options.maxBytes) cutForBacklog(conn, { packets: conn.writeBuffer.length, bytes }, this.#options.onOverflow)
      return true
    }
    for (let i = 0; i < batch.packets.length; i++) {
      conn.write(batch.packets[i] as string, { wsPreEncodedFrame: [batch.frames[i] as Buffer] })
    }
    return false
  }
}
