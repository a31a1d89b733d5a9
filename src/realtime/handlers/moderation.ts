import type { Ack } from '../../protocol/events.js'
import { roomMemberPayload, roomRolePayload } from '../../protocol/schemas.js'
import type { ModerateOp } from '../../store/write-ops.js'
import type { RealtimeContext } from '../context.js'
import { parse } from '../dispatch.js'
import { evict } from '../evictions.js'
import { notOpen, refusalError } from '../room-access.js'
import { roomKey, type ChatSocket } from '../types.js'

/**
 * `room:invite`, `room:kick`, `room:ban`, `room:unban` (owner or moderator) and `room:role`
 * (owner). The store checks both users' roles under its write lock and makes the change; a kick
 * or ban then takes the user's connections out of the room on every worker before the ack.
 * Nobody can act on the owner, and a moderator cannot kick or ban another moderator.
 */

type ModerationContext = Pick<RealtimeContext, 'io' | 'logger' | 'presence' | 'feeds' | 'rooms' | 'reader' | 'writer' | 'crossVm'>

async function moderate (context: ModerationContext, socket: ChatSocket, name: string, op: Omit<ModerateOp, 'kind' | 'roomId' | 'actorId'>): Promise<void> {
  const room = await context.rooms.find(name)
  const actorId = socket.data.userId
  // Someone outside a private room (or asking about a room that does not exist) learns nothing.
  if (room === undefined || (room.visibility === 'private' && await context.reader.role(room.id, actorId) === undefined)) throw notOpen(name)
  const result = await context.writer.run({ kind: 'moderate', roomId: room.id, actorId, ...op })
  if (result.refusal !== undefined) throw refusalError(result.refusal)
  if (op.action === 'kick' || op.action === 'ban') {
    await evict(context, { room: name, userId: op.userId, reason: op.action === 'ban' ? 'banned' : 'kicked' })
  }
  if (op.action === 'role' && result.changed && op.role !== undefined) {
    const event = { room: name, userId: op.userId, role: op.role }
    context.io.to(roomKey(name)).emit('room:role', event)
    context.crossVm?.relay({ room: name, event: 'room:role', payload: event })
  }
}

/** One of `room:invite`, `room:kick`, `room:ban`, `room:unban`: `{ room, userId }` → `{ ok }`. */
export function moderateMember (context: ModerationContext, action: 'invite' | 'kick' | 'ban' | 'unban') {
  return async (socket: ChatSocket, payload: unknown): Promise<Ack> => {
    const { room, userId } = parse(roomMemberPayload, payload)
    await moderate(context, socket, room, { action, userId })
    return { ok: true }
  }
}

/** `room:role` `{ room, userId, role }` → `{ ok }`: the owner makes a member a moderator or back. */
export function changeRole (context: ModerationContext) {
  return async (socket: ChatSocket, payload: unknown): Promise<Ack> => {
    const { room, userId, role } = parse(roomRolePayload, payload)
    await moderate(context, socket, room, { action: 'role', userId, role })
    return { ok: true }
  }
}
