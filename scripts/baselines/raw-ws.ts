import { randomBytes } from 'node:crypto'
import type { Socket as TcpSocket } from 'node:net'
import { WebSocketServer, type WebSocket } from 'ws'
import type { Message } from '../../src/protocol/schemas.js'
import { announceListening, createHttpServer, errorAck, isErrorAck, MemoryChat, type Identity } from './memory-chat.js'

/**
 * Reference 2, the near-limit one: a single-process `ws` server with the same chat logic as
 * reference 1 (shared MemoryChat) and nothing else. So the same official socket.io-client can
 * drive it, it frames its text the way Engine.IO v4 / Socket.IO v5 do over a WebSocket (a
 * packet-type prefix: open `0{…}`, ping `2` / pong `3`, CONNECT `40`, EVENT `42[…]`, ACK
 * `43<id>[…]`); that framing is a few bytes of string work, not a library. No polling, no
 * namespaces, no binary packets, no per-socket timers (one ping sweep for all).
 *
 * Each broadcast is serialized once and its bytes are shared by every receiver. With
 * BATCH_WRITES (the default) each socket's frames of one event-loop turn leave in one system
 * call (the TCP socket is corked around them); BATCH_WRITES=false writes every frame at once,
 * as a plain ws server does.
 *
 * Env: PORT (0 = any), HOST, JWT_SECRET, BATCH_WRITES. Prints {"msg":"listening","port"}.
 */

const PING_INTERVAL_MS = 25_000
const PING_TIMEOUT_MS = 20_000
const MAX_PAYLOAD_BYTES = 1_000_000
const batchWrites = !['false', '0', 'no', 'off'].includes(process.env.BATCH_WRITES ?? 'true')

interface Connection {
  ws: WebSocket
  who: Identity | undefined
  rooms: Set<string>
  alive: boolean
  /** Frames waiting for this turn's flush (batching only). */
  out: Array<Buffer | string>
}

const chat = new MemoryChat(process.env.JWT_SECRET ?? 'dev-only-insecure-secret-change-me-0123456789')
const connections = new Set<Connection>()
const rooms = new Map<string, Set<Connection>>()
const httpServer = createHttpServer(chat, () => connections.size)
const wss = new WebSocketServer({ server: httpServer, path: '/socket.io/', perMessageDeflate: false, maxPayload: MAX_PAYLOAD_BYTES, clientTracking: false })

const dirty = new Set<Connection>()
let flushScheduled = false

function flush (): void {
  flushScheduled = false
  for (const connection of dirty) {
    const tcp = (connection.ws as unknown as { _socket: TcpSocket })._socket
    tcp.cork()
    for (const frame of connection.out) connection.ws.send(frame, { binary: false })
    tcp.uncork()
    connection.out = []
  }
  dirty.clear()
}

function send (connection: Connection, frame: Buffer | string): void {
  if (connection.ws.readyState !== connection.ws.OPEN) return
  if (!batchWrites) {
    connection.ws.send(frame, { binary: false })
    return
  }
  connection.out.push(frame)
  dirty.add(connection)
  if (!flushScheduled) {
    flushScheduled = true
    setImmediate(flush)
  }
}

function ack (connection: Connection, id: string, response: unknown): void {
  if (id !== '') send(connection, `43${id}${JSON.stringify([response])}`)
}

function broadcast (room: string, event: string, payload: unknown): void {
  const members = rooms.get(room)
  if (members === undefined) return
  const frame = Buffer.from(`42${JSON.stringify([event, payload])}`)
  for (const member of members) send(member, frame)
}

function leaveAll (connection: Connection): void {
  const who = connection.who
  if (who === undefined) return
  for (const room of connection.rooms) {
    const members = rooms.get(room)
    members?.delete(connection)
    if (members?.size === 0) rooms.delete(room)
    if (chat.leave(room, who)) broadcast(room, 'presence', { room, userId: who.userId, username: who.username, status: 'offline' })
  }
  connection.rooms.clear()
}

function onEvent (connection: Connection, who: Identity, id: string, name: unknown, payload: unknown): void {
  switch (name) {
    case 'room:join': {
      const result = chat.join(payload, who, connection.rooms)
      if (isErrorAck(result)) return ack(connection, id, result)
      const { answer, cameOnline } = result
      ack(connection, id, answer)
      if (!connection.rooms.has(answer.room)) {
        connection.rooms.add(answer.room)
        let members = rooms.get(answer.room)
        if (members === undefined) rooms.set(answer.room, members = new Set())
        members.add(connection)
      }
      if (cameOnline) broadcast(answer.room, 'presence', { room: answer.room, userId: who.userId, username: who.username, status: 'online' })
      return
    }
    case 'room:leave': {
      const room = (payload as { room?: unknown } | undefined)?.room
      if (typeof room === 'string' && connection.rooms.delete(room)) {
        rooms.get(room)?.delete(connection)
        if (chat.leave(room, who)) broadcast(room, 'presence', { room, userId: who.userId, username: who.username, status: 'offline' })
      }
      return ack(connection, id, { ok: true })
    }
    case 'message:send': {
      const message: Message | ReturnType<typeof errorAck> = chat.append(payload, who, connection.rooms)
      if (isErrorAck(message)) return ack(connection, id, message)
      ack(connection, id, { ok: true, id: message.id, seq: message.seq, ts: message.ts })
      return broadcast(message.room, 'message', message)
    }
    case 'history':
      return ack(connection, id, chat.history(payload, connection.rooms))
    case 'typing': {
      const { room, typing } = (payload ?? {}) as { room?: unknown, typing?: unknown }
      if (typeof room !== 'string' || !connection.rooms.has(room)) return ack(connection, id, errorAck('E_NOT_MEMBER', 'join the room first'))
      broadcast(room, 'typing', { room, userId: who.userId, username: who.username, typing: typing === true })
      return ack(connection, id, { ok: true })
    }
    default:
      return ack(connection, id, errorAck('E_VALIDATION', 'unknown event'))
  }
}

/** One Engine.IO packet (a WebSocket text frame) from the client. */
function onPacket (connection: Connection, text: string): void {
  const type = text.charCodeAt(0)
  if (type === 0x33) { // '3' pong
    connection.alive = true
    return
  }
  if (type === 0x31) { // '1' close
    connection.ws.close()
    return
  }
  if (type !== 0x34) return // only '4' message packets carry Socket.IO
  const packetType = text.charCodeAt(1)
  if (packetType === 0x30) { // '0' CONNECT, with the auth object
    if (connection.who !== undefined) return
    let auth: { token?: unknown } = {}
    try { auth = JSON.parse(text.slice(2) || '{}') as { token?: unknown } } catch {}
    const who = chat.verify(auth.token)
    if (who === undefined) {
      send(connection, '44{"message":"invalid token","data":{"code":"E_UNAUTHORIZED"}}')
      return
    }
    connection.who = who
    send(connection, `40{"sid":"${randomBytes(15).toString('base64url')}"}`)
    return
  }
  if (packetType === 0x31) { // '1' DISCONNECT
    connection.ws.close()
    return
  }
  if (packetType !== 0x32 || connection.who === undefined) return // '2' EVENT, once connected
  let index = 2
  while (index < text.length && text.charCodeAt(index) >= 0x30 && text.charCodeAt(index) <= 0x39) index++
  const id = text.slice(2, index)
  let args: unknown
  try { args = JSON.parse(text.slice(index)) } catch {}
  if (!Array.isArray(args)) return ack(connection, id, errorAck('E_VALIDATION', 'malformed event packet'))
  onEvent(connection, connection.who, id, args[0], args[1])
}

wss.on('connection', (ws, request) => {
  if (!(request.url ?? '').includes('transport=websocket')) {
    ws.close(1008, 'websocket transport only')
    return
  }
  const connection: Connection = { ws, who: undefined, rooms: new Set(), alive: true, out: [] }
  connections.add(connection)
  const sid = randomBytes(15).toString('base64url')
  send(connection, `0{"sid":"${sid}","upgrades":[],"pingInterval":${PING_INTERVAL_MS},"pingTimeout":${PING_TIMEOUT_MS},"maxPayload":${MAX_PAYLOAD_BYTES}}`)
  ws.on('message', (data, isBinary) => {
    if (!isBinary) onPacket(connection, data.toString())
  })
  ws.on('error', () => ws.terminate())
  ws.on('close', () => {
    connections.delete(connection)
    dirty.delete(connection)
    leaveAll(connection)
  })
})

// One sweep pings everyone; a connection that missed the previous ping's pong is cut.
setInterval(() => {
  for (const connection of connections) {
    if (!connection.alive) {
      connection.ws.terminate()
      continue
    }
    connection.alive = false
    send(connection, '2')
  }
}, PING_INTERVAL_MS).unref()

httpServer.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => announceListening(httpServer, batchWrites ? 'raw-ws' : 'raw-ws-unbatched'))
const stop = (): void => {
  for (const connection of connections) connection.ws.terminate()
  httpServer.close(() => process.exit(0))
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
