import { ChatError } from '../../errors.js'
import type { Ack, RoomCreateOk, RoomJoinOk } from '../../protocol/events.js'
import {
  DIRECT_ROOM_PREFIX,
  JOIN_RECENT_LIMIT,
  JOIN_SINCE_LIMIT,
  roomCreatePayload,
  roomJoinPayload,
  roomLeavePayload,
  type Member,
  type MemberRole,
  type Message
} from '../../protocol/schemas.js'
import type { RoomInfo, RoomRef } from '../../store/message-reader.js'
import type { RealtimeContext } from '../context.js'
import { deferred, parse, type Deferred } from '../dispatch.js'
import { PreEncodedJson } from '../parser.js'
import { creationQuota, notOpen, refusalError } from '../room-access.js'
import { roomKey, type ChatSocket } from '../types.js'
import { stopTyping } from './typing.js'

/**
 * `room:create`, `room:join` and `room:leave`. Joining needs membership: a public room makes its
 * joiner a member (unless banned), a private room admits its members only, and a room that does
 * not exist is created public with its joiner as owner. A join answers what the client missed
 * (after `since`, or the latest page) up to the room feed's cursor; right after the ack, in the
 * same turn, the socket gets whatever the feed delivered meanwhile and enters the room, so every
 * later message reaches it live: none is missed, none comes twice, all in seq order.
 */

export function joinRoom (context: RealtimeContext) {
  return async (socket: ChatSocket, payload: unknown): Promise<Deferred<{ ok: true } & RoomJoinOk>> => {
    const { room: name, since } = parse(roomJoinPayload, payload)
    const joined = socket.data.rooms.get(name)
    if (joined === undefined && socket.data.rooms.size >= context.config.ROOMS_PER_SOCKET) {
      throw new ChatError('E_FORBIDDEN', `a connection may join at most ${context.config.ROOMS_PER_SOCKET} rooms`)
    }
    const { room, role } = joined !== undefined
      ? { room: joined, role: context.reader.role(joined.id, socket.data.userId) ?? 'member' }
      : await admit(context, socket.data.userId, name)

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
    const response = {
      ok: true as const,
      room: name,
      seq: cursor,
      missed: missed as Message[],
      hasMore,
      members,
      visibility: room.visibility,
      role,
      staff: context.reader.staff(room.id),
      direct: room.direct
    }

    return deferred(response, () => {
      if (joined !== undefined) {
        catchUp(context, socket, room, cursor)
        return
      }
      if (!socket.connected) {
        context.feeds.release(room.id)
        return
      }
      // A kick or ban that committed while this join awaited its page: the eviction found no
      // socket in the room yet, so this socket stays out and hears it now.
      if (context.reader.role(room.id, self.userId) === undefined) {
        context.feeds.release(room.id)
        socket.emit('room:removed', { room: name, reason: context.reader.banned(room.id, self.userId) ? 'banned' : 'kicked' })
        return
      }
      catchUp(context, socket, room, cursor)
      socket.data.rooms.set(name, room)
      void socket.join(roomKey(name))
      context.presence.join(name, self.userId, self.username)
    })
  }
}

/** The room and the user's role in it, once the user may join it (made a member if needed). */
async function admit (context: Pick<RealtimeContext, 'writer' | 'rooms' | 'reader' | 'config'>, userId: string, name: string): Promise<{ room: RoomInfo, role: MemberRole }> {
  const found = context.rooms.find(name)
  if (found !== undefined) {
    const role = context.reader.role(found.id, userId)
    if (role !== undefined) return { room: found, role }
    if (found.visibility === 'private' || context.reader.banned(found.id, userId)) throw notOpen(name)
  } else if (name.startsWith(DIRECT_ROOM_PREFIX)) {
    // Reserved for dm:open; answered like a private room so it tells nothing.
    throw notOpen(name)
  }
  const result = await context.writer.run({ kind: 'room-enter', name, userId, quota: creationQuota(context) })
  if (result.refusal !== undefined) throw refusalError(result.refusal)
  const room = result.room as NonNullable<typeof result.room>
  return { room: context.rooms.remember({ id: room.id, name, visibility: room.visibility, direct: room.direct }), role: result.role ?? 'member' }
}

/** `room:create`: a new room owned by its creator, who is not subscribed until it joins. */
export function createRoom (context: Pick<RealtimeContext, 'writer' | 'rooms' | 'config'>) {
  return async (socket: ChatSocket, payload: unknown): Promise<Ack<RoomCreateOk>> => {
    const { room: name, visibility = 'public' } = parse(roomCreatePayload, payload)
    if (name.startsWith(DIRECT_ROOM_PREFIX)) throw new ChatError('E_VALIDATION', `room names starting with ${DIRECT_ROOM_PREFIX} are reserved for direct messages`)
    const result = await context.writer.run({ kind: 'room-create', name, visibility, userId: socket.data.userId, quota: creationQuota(context) })
    if (result.refusal !== undefined) throw refusalError(result.refusal)
    const room = result.room as NonNullable<typeof result.room>
    context.rooms.remember({ id: room.id, name, visibility, direct: false })
    return { ok: true, room: name, visibility }
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
export function leave (context: Pick<RealtimeContext, 'presence' | 'feeds'>, socket: ChatSocket, name: string): void {
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
