import { ChatError } from '../../errors.js'
import type { RoomJoinOk } from '../../protocol/events.js'
import { JOIN_RECENT_LIMIT, JOIN_SINCE_LIMIT, roomJoinPayload, roomLeavePayload, type Member, type Message } from '../../protocol/schemas.js'
import type { RoomRef } from '../../store/message-reader.js'
import type { RealtimeContext } from '../context.js'
import { deferred, parse, type Deferred } from '../dispatch.js'
import { PreEncodedJson } from '../parser.js'
import { roomKey, type ChatSocket } from '../types.js'
import { stopTyping } from './typing.js'

/**
 * `room:join` and `room:leave`. A join answers what the client missed (after `since`, or the
 * latest page) up to the room feed's cursor; right after the ack, in the same turn, the socket
 * gets whatever the feed delivered meanwhile and enters the room, so every later message reaches
 * it live: none is missed, none comes twice, all in seq order.
 */

export function joinRoom (context: RealtimeContext) {
  return async (socket: ChatSocket, payload: unknown): Promise<Deferred<{ ok: true } & RoomJoinOk>> => {
    const { room: name, since } = parse(roomJoinPayload, payload)
    const joined = socket.data.rooms.get(name)
    if (joined === undefined && socket.data.rooms.size >= context.config.ROOMS_PER_SOCKET) {
      throw new ChatError('E_FORBIDDEN', `a connection may join at most ${context.config.ROOMS_PER_SOCKET} rooms`)
    }
    const room = joined ?? await context.rooms.ensure(name)

    // Hold the feed before awaiting the page, so its cursor keeps moving meanwhile.
    const cursor = joined !== undefined ? context.feeds.cursor(room.id) ?? 0 : context.feeds.acquire(room)
    let missed: Message[] | PreEncodedJson
    let hasMore: boolean
    try {
      const page = since === undefined
        ? context.reader.before(room, cursor + 1, JOIN_RECENT_LIMIT)
        : context.reader.after(room, since, cursor + 1, JOIN_SINCE_LIMIT)
      const encoded = await context.pool.serializePage(page.messages)
      missed = encoded === undefined ? page.messages : new PreEncodedJson(encoded)
      hasMore = page.hasMore
    } catch (error) {
      if (joined === undefined) context.feeds.release(room.id)
      throw error
    }

    const members = context.presence.members(name)
    const self: Member = { userId: socket.data.userId, username: socket.data.username }
    if (!members.some((member) => member.userId === self.userId)) members.push(self)
    const response = { ok: true as const, room: name, seq: cursor, missed: missed as Message[], hasMore, members }

    return deferred(response, () => {
      if (joined !== undefined) {
        catchUp(context, socket, room, cursor)
        return
      }
      if (!socket.connected) {
        context.feeds.release(room.id)
        return
      }
      catchUp(context, socket, room, cursor)
      socket.data.rooms.set(name, room)
      void socket.join(roomKey(name))
      context.presence.join(name, self.userId, self.username)
    })
  }
}

/**
 * Sends the socket what its room's feed delivered after `cursor` while the join awaited (before
 * the socket was in the room). A rejoin of a room already joined needs none: it stayed in.
 */
function catchUp (context: RealtimeContext, socket: ChatSocket, room: RoomRef, cursor: number): void {
  if (socket.rooms.has(roomKey(room.name))) return
  const now = context.feeds.cursor(room.id) ?? cursor
  let after = cursor
  while (after < now) {
    const page = context.reader.after(room, after, now + 1, 500)
    for (const message of page.messages) socket.emit('message', message)
    const last = page.messages[page.messages.length - 1]
    if (last === undefined) break
    after = last.seq
  }
}

export function leaveRoom (context: RealtimeContext) {
  return (socket: ChatSocket, payload: unknown): { ok: true } => {
    const { room } = parse(roomLeavePayload, payload)
    leave(context, socket, room)
    return { ok: true }
  }
}

/** Takes the socket out of one room: typing, presence, feed hold, Socket.IO room. */
export function leave (context: RealtimeContext, socket: ChatSocket, name: string): void {
  const room = socket.data.rooms.get(name)
  if (room === undefined) return
  socket.data.rooms.delete(name)
  stopTyping(socket, name)
  void socket.leave(roomKey(name))
  context.presence.leave(name, socket.data.userId, socket.data.username)
  context.feeds.release(room.id)
}

/** Everything a socket held, released on disconnect. */
export function leaveAll (context: RealtimeContext, socket: ChatSocket): void {
  for (const name of [...socket.data.rooms.keys()]) leave(context, socket, name)
}
