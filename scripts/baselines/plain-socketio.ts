import { Server, type Socket } from 'socket.io'
import { announceListening, createHttpServer, errorAck, isErrorAck, MemoryChat, type Identity } from './memory-chat.js'

/**
 * Reference 1: the seed's kind of app. One process, Socket.IO with its default options, the
 * chat events of PROTOCOL.md with the same ack shapes, messages in memory with a per-room seq,
 * room-scoped broadcast. No durability, no limits, no backpressure.
 *
 * Env: PORT (0 = any), HOST, JWT_SECRET. Prints {"msg":"listening","port"} when ready.
 */

type Ack = (response: unknown) => void

interface SocketState {
  who: Identity
  rooms: Set<string>
}

const chat = new MemoryChat(process.env.JWT_SECRET ?? 'dev-only-insecure-secret-change-me-0123456789')
const httpServer = createHttpServer(chat, () => io.engine.clientsCount)
const io = new Server(httpServer)

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
  const { who } = state

  socket.on('room:join', (payload: unknown, ack: unknown) => {
    const result = chat.join(payload, who, state.rooms)
    if (isErrorAck(result)) return respond(ack, result)
    const { answer, cameOnline } = result
    respond(ack, answer)
    if (!state.rooms.has(answer.room)) {
      state.rooms.add(answer.room)
      void socket.join(answer.room)
    }
    if (cameOnline) io.to(answer.room).emit('presence', { room: answer.room, userId: who.userId, username: who.username, status: 'online' })
  })

  socket.on('room:leave', (payload: unknown, ack: unknown) => {
    const room = (payload as { room?: unknown } | undefined)?.room
    if (typeof room === 'string' && state.rooms.delete(room)) {
      void socket.leave(room)
      if (chat.leave(room, who)) io.to(room).emit('presence', { room, userId: who.userId, username: who.username, status: 'offline' })
    }
    respond(ack, { ok: true })
  })

  socket.on('message:send', (payload: unknown, ack: unknown) => {
    const message = chat.append(payload, who, state.rooms)
    if (isErrorAck(message)) return respond(ack, message)
    respond(ack, { ok: true, id: message.id, seq: message.seq, ts: message.ts })
    io.to(message.room).emit('message', message)
  })

  socket.on('history', (payload: unknown, ack: unknown) => respond(ack, chat.history(payload, state.rooms)))

  socket.on('typing', (payload: unknown, ack: unknown) => {
    const { room, typing } = (payload ?? {}) as { room?: unknown, typing?: unknown }
    if (typeof room !== 'string' || !state.rooms.has(room)) return respond(ack, errorAck('E_NOT_MEMBER', 'join the room first'))
    socket.to(room).emit('typing', { room, userId: who.userId, username: who.username, typing: typing === true })
    respond(ack, { ok: true })
  })

  socket.on('disconnect', () => {
    for (const room of state.rooms) {
      if (chat.leave(room, who)) io.to(room).emit('presence', { room, userId: who.userId, username: who.username, status: 'offline' })
    }
    state.rooms.clear()
  })
})

httpServer.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => announceListening(httpServer, 'plain-socketio'))
process.on('SIGTERM', () => { io.close(() => process.exit(0)) })
process.on('SIGINT', () => { io.close(() => process.exit(0)) })
