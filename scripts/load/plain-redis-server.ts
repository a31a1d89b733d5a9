import { randomUUID } from 'node:crypto'
import { createAdapter } from '@socket.io/redis-adapter'
import { Redis } from 'ioredis'
import { Server, type Socket } from 'socket.io'
import type { Message } from '../../src/protocol/schemas.js'
import { announceListening, createHttpServer, errorAck, MemoryChat, type Identity } from '../baselines/memory-chat.js'

/**
 * The multi-VM reference of bench-multivm: the way Socket.IO's own docs scale a chat over
 * several servers. One process of several, plain Socket.IO on `@socket.io/redis-adapter`
 * (`createAdapter(pubClient, subClient)` with ioredis clients), speaking the events the driver
 * uses: `room:join` (answered with no history), `message:send` acked `{ ok, id, seq, ts }` at
 * once and emitted as `message` to the room, through Redis to the room's members on the other
 * processes. Nothing is stored, checked beyond its shape or limited; `seq` counts this process's
 * messages per room (the adapter gives no order between processes, and the benchmark does not
 * ask it for one). Sign-in (`POST /api/sessions`) and `/stats` come from the single-process
 * references (scripts/baselines/memory-chat.ts), with the same HS256 tokens.
 *
 * Env: REDIS_URL (required), PORT (0 = any), HOST, JWT_SECRET. Prints
 * {"msg":"listening","port"} once the adapter is subscribed.
 */

type Ack = (response: unknown) => void

interface SocketState {
  who: Identity
  rooms: Set<string>
}

const ROOM = /^[a-z0-9][a-z0-9_-]{0,63}$/
const CLIENT_MSG_ID = /^[A-Za-z0-9_-]{8,64}$/

const redisUrl = process.env.REDIS_URL
if (redisUrl === undefined || redisUrl === '') {
  process.stderr.write('plain-redis-server: REDIS_URL is required\n')
  process.exit(2)
}

const chat = new MemoryChat(process.env.JWT_SECRET ?? 'dev-only-insecure-secret-change-me-0123456789')
const httpServer = createHttpServer(chat, () => io.engine.clientsCount)
const pubClient = new Redis(redisUrl, { connectionName: 'plain-redis-pub' })
const subClient = pubClient.duplicate({ connectionName: 'plain-redis-sub' })
for (const client of [pubClient, subClient]) client.on('error', (error: Error) => process.stderr.write(`redis: ${error.message}\n`))
const io = new Server(httpServer, { adapter: createAdapter(pubClient, subClient) })
/** This process's last seq per room. */
const seqs = new Map<string, number>()

io.use((socket, next) => {
  const who = chat.verify((socket.handshake.auth as { token?: unknown }).token)
  if (who === undefined) return next(Object.assign(new Error('invalid token'), { data: { code: 'E_UNAUTHORIZED' } }))
  socket.data = { who, rooms: new Set() } satisfies SocketState
  next()
})

const respond = (ack: unknown, response: unknown): void => {
  if (typeof ack === 'function') (ack as Ack)(response)
}

io.on('connection', (socket: Socket) => {
  const state = socket.data as SocketState

  socket.on('room:join', (payload: unknown, ack: unknown) => {
    const room = (payload as { room?: unknown } | undefined)?.room
    if (typeof room !== 'string' || !ROOM.test(room)) return respond(ack, errorAck('E_VALIDATION', 'room: invalid'))
    state.rooms.add(room)
    void socket.join(room)
    respond(ack, { ok: true, room, seq: seqs.get(room) ?? 0, missed: [], hasMore: false, members: [] })
  })

  socket.on('message:send', (payload: unknown, ack: unknown) => {
    const { room, text, clientMsgId } = (payload ?? {}) as { room?: unknown, text?: unknown, clientMsgId?: unknown }
    if (typeof room !== 'string' || typeof clientMsgId !== 'string' || !CLIENT_MSG_ID.test(clientMsgId)) return respond(ack, errorAck('E_VALIDATION', 'room and clientMsgId are required'))
    if (typeof text !== 'string' || text.trim().length === 0 || text.length > 2000) return respond(ack, errorAck('E_VALIDATION', 'text: 1-2000 characters'))
    if (!state.rooms.has(room)) return respond(ack, errorAck('E_NOT_MEMBER', 'join the room first'))
    const seq = (seqs.get(room) ?? 0) + 1
    seqs.set(room, seq)
    const message: Message = { id: randomUUID(), room, seq, userId: state.who.userId, username: state.who.username, text: text.trim(), ts: Date.now(), clientMsgId }
    respond(ack, { ok: true, id: message.id, seq, ts: message.ts })
    io.to(room).emit('message', message)
  })

  socket.on('disconnect', () => state.rooms.clear())
})

// Listen once both connections are up, so the first broadcast already reaches the other processes.
await Promise.all([pubClient, subClient].map(async (client) => {
  if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve))
}))
httpServer.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => announceListening(httpServer, 'plain-redis'))

const shutdown = (): void => {
  io.close(() => {
    pubClient.disconnect()
    subClient.disconnect()
    process.exit(0)
  })
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
