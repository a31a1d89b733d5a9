import type Database from 'better-sqlite3'
import type { MemberRole, Visibility } from '../src/protocol/schemas.js'
import type {
  CreateRoomOp,
  CreationQuota,
  DeleteMessageOp,
  DeleteMessageResult,
  EnterRoomOp,
  ModerateOp,
  ModerateResult,
  OpenDirectOp,
  OpenDirectResult,
  Refusal,
  RoomRecord,
  RoomResult
} from '../src/store/write-ops.js'

/**
 * The store thread's room writes: creation with quotas, membership, moderation, direct-message
 * rooms and tombstones. Every rule that depends on what is stored (a role, a ban, who wrote a
 * message, how many rooms a user created) is checked here, under the write lock, in the same
 * transaction as the write it guards, so two workers can never race past a rule.
 */

const HOUR_MS = 3_600_000
const RANK: Readonly<Record<MemberRole, number>> = { owner: 3, moderator: 2, member: 1 }

interface RoomRow { id: number, visibility: Visibility, direct: number }

const refuse = (code: Refusal['code'], message: string, retryAfterMs?: number): Refusal =>
  retryAfterMs === undefined ? { code, message } : { code, message, retryAfterMs }

const record = (row: RoomRow): RoomRecord => ({ id: row.id, visibility: row.visibility, direct: row.direct !== 0 })

export function createRoomWrites (db: Database.Database) {
  const findRoom = db.prepare<[string], RoomRow>('SELECT id, visibility, direct FROM rooms WHERE name = ?')
  const roomById = db.prepare<[number], RoomRow>('SELECT id, visibility, direct FROM rooms WHERE id = ?')
  const insertRoom = db.prepare<[string, number, Visibility, number, string | null]>(
    'INSERT INTO rooms (name, last_seq, created_at, visibility, direct, created_by) VALUES (?, 0, ?, ?, ?, ?)')
  const createdSince = db.prepare<[string, number], { count: number, oldest: number | null }>(
    'SELECT COUNT(*) AS count, MIN(created_at) AS oldest FROM rooms WHERE created_by = ? AND created_at > ?')
  const createdInAll = db.prepare<[string], { count: number }>('SELECT COUNT(*) AS count FROM rooms WHERE created_by = ?')
  const roleOf = db.prepare<[number, string], { role: MemberRole }>('SELECT role FROM memberships WHERE room_id = ? AND user_id = ?')
  const addMember = db.prepare<[number, string, MemberRole, number]>(
    'INSERT INTO memberships (room_id, user_id, role, joined_at) VALUES (?, ?, ?, ?) ON CONFLICT (room_id, user_id) DO NOTHING')
  const setRole = db.prepare<[MemberRole, number, string]>('UPDATE memberships SET role = ? WHERE room_id = ? AND user_id = ?')
  const removeMember = db.prepare<[number, string]>('DELETE FROM memberships WHERE room_id = ? AND user_id = ?')
  const isBanned = db.prepare<[number, string], { one: number }>('SELECT 1 AS one FROM bans WHERE room_id = ? AND user_id = ?')
  const addBan = db.prepare<[number, string, string, number]>(
    'INSERT INTO bans (room_id, user_id, banned_by, banned_at) VALUES (?, ?, ?, ?) ON CONFLICT (room_id, user_id) DO NOTHING')
  const removeBan = db.prepare<[number, string]>('DELETE FROM bans WHERE room_id = ? AND user_id = ?')
  // A user the service knows: signed in through POST /api/sessions (a users row), or, with tokens
  // minted elsewhere, seen as a member of some room.
  const userKnown = db.prepare<[string, string], { one: number }>(
    'SELECT 1 AS one FROM users WHERE id = ? UNION ALL SELECT 1 FROM memberships WHERE user_id = ? LIMIT 1')
  const isKnownUser = (userId: string): boolean => userKnown.get(userId, userId) !== undefined
  const findMessage = db.prepare<[string, number], { seq: number, user_id: string, deleted: number }>(
    'SELECT seq, user_id, deleted FROM messages WHERE id = ? AND room_id = ?')
  const tombstone = db.prepare<[number, number]>("UPDATE messages SET text = '', deleted = 1 WHERE room_id = ? AND seq = ?")

  /** Why `userId` may not create another room now, or undefined. */
  function quotaRefusal (userId: string, quota: CreationQuota, ts: number): Refusal | undefined {
    const total = (createdInAll.get(userId) as { count: number }).count
    if (total >= quota.max) return refuse('E_FORBIDDEN', `a user may create at most ${quota.max} rooms`)
    const recent = createdSince.get(userId, ts - HOUR_MS) as { count: number, oldest: number | null }
    if (recent.count >= quota.perHour) {
      return refuse('E_RATE_LIMITED', `a user may create at most ${quota.perHour} rooms an hour`, (recent.oldest ?? ts) + HOUR_MS - ts)
    }
    return undefined
  }

  function create (name: string, visibility: Visibility, userId: string, ts: number): RoomRow {
    const id = Number(insertRoom.run(name, ts, visibility, 0, userId).lastInsertRowid)
    addMember.run(id, userId, 'owner', ts)
    return { id, visibility, direct: 0 }
  }

  function createRoom (op: CreateRoomOp, ts: number): RoomResult {
    if (findRoom.get(op.name) !== undefined) return { kind: 'room-create', refusal: refuse('E_CONFLICT', `room ${op.name} exists`) }
    const refusal = quotaRefusal(op.userId, op.quota, ts)
    if (refusal !== undefined) return { kind: 'room-create', refusal }
    return { kind: 'room-create', room: record(create(op.name, op.visibility, op.userId, ts)), role: 'owner' }
  }

  function enterRoom (op: EnterRoomOp, ts: number): RoomResult {
    const found = findRoom.get(op.name)
    if (found === undefined) {
      const refusal = quotaRefusal(op.userId, op.quota, ts)
      if (refusal !== undefined) return { kind: 'room-enter', refusal }
      return { kind: 'room-enter', room: record(create(op.name, 'public', op.userId, ts)), role: 'owner' }
    }
    const room = record(found)
    const role = roleOf.get(room.id, op.userId)?.role
    if (role !== undefined) return { kind: 'room-enter', room, role }
    if (room.visibility === 'private' || isBanned.get(room.id, op.userId) !== undefined) {
      return { kind: 'room-enter', room, refusal: forbidden(op.name) }
    }
    addMember.run(room.id, op.userId, 'member', ts)
    return { kind: 'room-enter', room, role: 'member' }
  }

  function moderate (op: ModerateOp, ts: number): ModerateResult {
    const room = roomById.get(op.roomId)
    const actorRole = room === undefined ? undefined : roleOf.get(op.roomId, op.actorId)?.role
    const result = (changed: boolean, refusal?: Refusal): ModerateResult =>
      refusal === undefined ? { kind: 'moderate', changed } : { kind: 'moderate', changed, refusal }
    if (room === undefined || actorRole === undefined) return result(false, refuse('E_FORBIDDEN', 'not allowed in this room'))
    const needed = op.action === 'role' ? 'owner' : 'moderator'
    if (RANK[actorRole] < RANK[needed]) return result(false, refuse('E_FORBIDDEN', `${op.action} needs the ${needed} role`))
    if (room.direct !== 0) return result(false, refuse('E_FORBIDDEN', 'a direct-message room has no moderation'))
    const targetRole = roleOf.get(op.roomId, op.userId)?.role

    switch (op.action) {
      case 'invite':
        if (targetRole !== undefined) return result(false)
        if (!isKnownUser(op.userId)) return result(false, refuse('E_VALIDATION', 'unknown userId'))
        if (isBanned.get(op.roomId, op.userId) !== undefined) return result(false, refuse('E_FORBIDDEN', 'that user is banned from the room; unban first'))
        return result(addMember.run(op.roomId, op.userId, 'member', ts).changes > 0)
      case 'kick':
      case 'ban':
        if (targetRole === 'owner') return result(false, refuse('E_FORBIDDEN', `nobody can ${op.action} the owner`))
        if (targetRole !== undefined && RANK[targetRole] >= RANK[actorRole]) {
          return result(false, refuse('E_FORBIDDEN', `only the owner can ${op.action} a moderator`))
        }
        if (op.action === 'kick') return result(removeMember.run(op.roomId, op.userId).changes > 0)
        if (!isKnownUser(op.userId)) return result(false, refuse('E_VALIDATION', 'unknown userId'))
        removeMember.run(op.roomId, op.userId)
        return result(addBan.run(op.roomId, op.userId, op.actorId, ts).changes > 0)
      case 'unban':
        return result(removeBan.run(op.roomId, op.userId).changes > 0)
      case 'role':
        if (targetRole === 'owner') return result(false, refuse('E_FORBIDDEN', 'nobody can change the role of the owner'))
        if (targetRole === undefined) return result(false, refuse('E_VALIDATION', 'that user is not a member of the room'))
        return result(setRole.run(op.role ?? 'member', op.roomId, op.userId).changes > 0 && targetRole !== op.role)
    }
  }

  function openDirect (op: OpenDirectOp, ts: number): OpenDirectResult {
    if (!isKnownUser(op.otherUserId)) return { kind: 'dm-open', refusal: refuse('E_VALIDATION', 'unknown userId') }
    let found = findRoom.get(op.name)
    if (found === undefined) {
      const id = Number(insertRoom.run(op.name, ts, 'private', 1, null).lastInsertRowid)
      found = { id, visibility: 'private', direct: 1 }
    } else if (found.direct === 0) {
      return { kind: 'dm-open', refusal: refuse('E_CONFLICT', `room ${op.name} exists and is not a direct-message room`) }
    }
    addMember.run(found.id, op.userId, 'member', ts)
    addMember.run(found.id, op.otherUserId, 'member', ts)
    return { kind: 'dm-open', room: record(found) }
  }

  function deleteMessage (op: DeleteMessageOp): DeleteMessageResult {
    const message = findMessage.get(op.id, op.roomId)
    if (message === undefined) return { kind: 'message-delete', changed: false, refusal: refuse('E_NOT_FOUND', 'no such message in this room') }
    if (message.user_id !== op.actorId) {
      const role = roleOf.get(op.roomId, op.actorId)?.role
      if (role !== 'owner' && role !== 'moderator') {
        return { kind: 'message-delete', changed: false, refusal: refuse('E_FORBIDDEN', "only the owner or a moderator may delete another user's message") }
      }
    }
    if (message.deleted !== 0) return { kind: 'message-delete', seq: message.seq, changed: false }
    tombstone.run(op.roomId, message.seq)
    return { kind: 'message-delete', seq: message.seq, changed: true }
  }

  return { createRoom, enterRoom, moderate, openDirect, deleteMessage }
}

/** The one answer a private room gives to anyone outside it, whatever the reason. */
function forbidden (name: string): Refusal {
  return refuse('E_FORBIDDEN', `room ${name} is not open to you`)
}
