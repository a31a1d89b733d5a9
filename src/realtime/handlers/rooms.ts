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
import type { RoomInfo } from '../../store/store.js'
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
 * same turn, the socket gets whatever the feed delivered meanwhile (recorded by the feed's
 * watch, not read again) and enters the room, so every later message reaches it live: none is
 * missed, none comes twice, all in seq order, however long the store's reads take.
 */

export function joinRoom (context: RealtimeContext) {
  return async (socket: ChatSocket, payload: unknown): Promise<Deferred<{ ok: true } & RoomJoinOk>> => {
    const { room: name, since } = parse(roomJoinPayload, payload)
    const userId = socket.data.userId
    const joined = socket.data.rooms.get(name)
    if (joined === undefined && socket.data.rooms.size >= context.config.ROOMS_PER_SOCKET) {
      throw new ChatError('E_FORBIDDEN', `a connection may join at most ${context.config.ROOMS_PER_SOCKET} rooms`)
    }
    const { room, role } = joined !== undefined
      ? { room: joined, role: await context.reader.role(joined.id, userId) ?? 'member' }
      : await admit(context, userId, name)

    // Hold the feed (and watch what it delivers) before awaiting the page, so its cursor keeps
    // moving meanwhile and the socket gets what it moved past from memory when it joins.
    const { cursor, watch } = joined !== undefined
      ? { cursor: context.feeds.cursor(room.id) ?? 0, watch: undefined }
      : await context.feeds.acquire(room)
    let missed: Message[] | PreEncodedJson
    let hasMore: boolean
    let staff: Awaited<ReturnType<typeof context.reader.staff>>
    let removed: 'kicked' | 'banned' | undefined
    try {
      const page = since === undefined
        ? await context.reader.before(room, cursor + 1, JOIN_RECENT_LIMIT)
        : await context.reader.after(room, since, cursor + 1, JOIN_SINCE_LIMIT)
      const encoded = await context.pool.serializePage(page.messages)
      missed = encoded === undefined ? page.messages : new PreEncodedJson(encoded)
      hasMore = page.hasMore
      staff = await context.reader.staff(room.id)
      // A kick or ban that committed while this join awaited: the eviction found no socket in
      // the room yet, so this socket stays out and hears it once answered.
      if (joined === undefined && await context.reader.role(room.id, userId) === undefined) {
        removed = await context.reader.banned(room.id, userId) ? 'banned' : 'kicked'
      }
    } catch (error) {
      watch?.end()
      if (joined === undefined) context.feeds.release(room.id)
      throw error
    }

    const members = context.presence.members(name)
    const self: Member = { userId, username: socket.data.username }
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
      staff,
      direct: room.direct
    }

    return deferred(response, () => {
      if (watch === undefined) return // a rejoin: the socket stayed in the room
      if (!socket.connected || removed !== undefined || socket.data.rooms.has(name)) {
        watch.end()
        context.feeds.release(room.id)
        if (removed !== undefined && socket.connected) socket.emit('room:removed', { room: name, reason: removed })
        return
      }
      // In one synchronous step: what the feed delivered since the cursor, then the room.
      for (const message of watch.take()) socket.emit('message', message)
      socket.data.rooms.set(name, room)
      void socket.join(roomKey(name))
      context.presence.join(name, self.userId, self.username)
    })
  }
}

/** The room and the user's role in it, once the user may join it (made a member if needed). */
async function admit (context: Pick<RealtimeContext, 'writer' | 'rooms' | 'reader' | 'config'>, userId: string, name: string): Promise<{ room: RoomInfo, role: MemberRole }> {
  const found = await context.rooms.find(name)
  if (found !== undefined) {
    const role = await context.reader.role(found.id, userId)
    if (role !== undefined) return { room: found, role }
    if (found.visibility === 'private' || await context.reader.banned(found.id, userId)) throw notOpen(name)
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

export function leaveRoom (context: RealtimeContext) {
  return (socket: ChatSocket, payload: unknown): { ok: true } => {
    const { room } = parse(roomLeavePayload, payload)
    leave(context, socket, room)
    return { ok: true }
  }
}

/** Takes the socket out of one room: typing, presence, feed hold, Socket.IO room. */
export function leave (context: Pick<RealtimeContext, 'presence' | 'feeds' | 'crossVm'>, socket: ChatSocket, name: string): void {
  const room = socket.data.rooms.get(name)
  if (room === undefined) return
  socket.data.rooms.delete(name)
  stopTyping(context, socket, name)
  void socket.leave(roomKey(name))
  context.presence.leave(name, socket.data.userId, socket.data.username)
  context.feeds.release(room.id)
}

/** Everything a socket held, released on disconnect. */
export function leaveAll (context: RealtimeContext, socket: ChatSocket): void {
  for (const name of [...socket.data.rooms.keys()]) leave(context, socket, name)
}
