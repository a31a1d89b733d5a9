import type pg from 'pg'
import type { MemberRole, Visibility } from '../../protocol/schemas.js'
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
} from '../write-ops.js'

/**
 * The PostgreSQL writer's rules for users, tokens and rooms: the rules of
 * workers/room-writes.ts and workers/store-writer.ts (creation with quotas, membership,
 * moderation, direct-message rooms, tombstones, accounts, guests, revocations), run inside the
 * writer's transaction after it took its locks (pg-writer.ts), so two VMs can never race past a
 * rule.
 */

/** A query in the open transaction; `name` makes it a prepared statement of the connection. */
export type Query = <R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[], name?: string) => Promise<pg.QueryResult<R>>

const HOUR_MS = 3_600_000
const RANK: Readonly<Record<MemberRole, number>> = { owner: 3, moderator: 2, member: 1 }

interface RoomRow { id: number, visibility: Visibility, direct: boolean }

const refuse = (code: Refusal['code'], message: string, retryAfterMs?: number): Refusal =>
  retryAfterMs === undefined ? { code, message } : { code, message, retryAfterMs }

const record = (row: RoomRow): RoomRecord => ({ id: row.id, visibility: row.visibility, direct: row.direct })

/** The one answer a private room gives to anyone outside it, whatever the reason. */
const forbidden = (name: string): Refusal => refuse('E_FORBIDDEN', `room ${name} is not open to you`)

export function createRoomWrites (q: Query) {
  const one = async <R extends pg.QueryResultRow>(text: string, values: unknown[], name: string): Promise<R | undefined> =>
    (await q<R>(text, values, name)).rows[0]
  const changes = async (text: string, values: unknown[], name: string): Promise<number> => (await q(text, values, name)).rowCount ?? 0

  const findRoom = async (name: string, lock = false): Promise<RoomRow | undefined> =>
    await one<RoomRow>(`SELECT id, visibility, direct FROM rooms WHERE name = $1${lock ? ' FOR UPDATE' : ''}`, [name], lock ? 'rooms.lockByName' : 'rooms.byName')
  const roomById = async (id: number): Promise<RoomRow | undefined> =>
    await one<RoomRow>('SELECT id, visibility, direct FROM rooms WHERE id = $1', [id], 'rooms.byId')
  /** The new room's id, or undefined when the name was taken (by another VM, just now). */
  const insertRoom = async (name: string, ts: number, visibility: Visibility, direct: boolean, createdBy: string | null): Promise<number | undefined> =>
    (await one<{ id: number }>(
      'INSERT INTO rooms (name, last_seq, created_at, visibility, direct, created_by) VALUES ($1, 0, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING RETURNING id',
      [name, ts, visibility, direct, createdBy], 'rooms.insert'))?.id
  const roleOf = async (roomId: number, userId: string): Promise<MemberRole | undefined> =>
    (await one<{ role: MemberRole }>('SELECT role FROM memberships WHERE room_id = $1 AND user_id = $2', [roomId, userId], 'rooms.role'))?.role
  const addMember = async (roomId: number, userId: string, role: MemberRole, ts: number): Promise<number> =>
    await changes('INSERT INTO memberships (room_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4) ON CONFLICT (room_id, user_id) DO NOTHING',
      [roomId, userId, role, ts], 'rooms.addMember')
  const isBanned = async (roomId: number, userId: string): Promise<boolean> =>
    await one('SELECT 1 AS one FROM bans WHERE room_id = $1 AND user_id = $2', [roomId, userId], 'rooms.banned') !== undefined
  // A user the service knows: signed in through POST /api/sessions (a users row), or, with tokens
  // minted elsewhere, seen as a member of some room.
  const isKnownUser = async (userId: string): Promise<boolean> =>
    await one('SELECT 1 AS one FROM users WHERE id = $1 UNION ALL SELECT 1 FROM memberships WHERE user_id = $1 LIMIT 1', [userId], 'rooms.userKnown') !== undefined

  /** Why `userId` may not create another room now, or undefined (under the user's creator lock). */
  async function quotaRefusal (userId: string, quota: CreationQuota, ts: number): Promise<Refusal | undefined> {
    const total = (await one<{ count: number }>('SELECT COUNT(*) AS count FROM rooms WHERE created_by = $1', [userId], 'rooms.createdInAll'))?.count ?? 0
    if (total >= quota.max) return refuse('E_FORBIDDEN', `a user may create at most ${quota.max} rooms`)
    const recent = await one<{ count: number, oldest: number | null }>(
      'SELECT COUNT(*) AS count, MIN(created_at) AS oldest FROM rooms WHERE created_by = $1 AND created_at > $2', [userId, ts - HOUR_MS], 'rooms.createdSince')
    if (recent !== undefined && recent.count >= quota.perHour) {
      return refuse('E_RATE_LIMITED', `a user may create at most ${quota.perHour} rooms an hour`, (recent.oldest ?? ts) + HOUR_MS - ts)
    }
    return undefined
  }

  /** A new public or private room owned by `userId`, or undefined when the name was just taken. */
  async function create (name: string, visibility: Visibility, userId: string, ts: number): Promise<RoomRow | undefined> {
    const id = await insertRoom(name, ts, visibility, false, userId)
    if (id === undefined) return undefined
    await addMember(id, userId, 'owner', ts)
    return { id, visibility, direct: false }
  }

  async function createRoom (op: CreateRoomOp, ts: number): Promise<RoomResult> {
    const conflict: RoomResult = { kind: 'room-create', refusal: refuse('E_CONFLICT', `room ${op.name} exists`) }
    if (await findRoom(op.name) !== undefined) return conflict
    const refusal = await quotaRefusal(op.userId, op.quota, ts)
    if (refusal !== undefined) return { kind: 'room-create', refusal }
    const room = await create(op.name, op.visibility, op.userId, ts)
    return room === undefined ? conflict : { kind: 'room-create', room: record(room), role: 'owner' }
  }

  async function enterRoom (op: EnterRoomOp, ts: number): Promise<RoomResult> {
    let found = await findRoom(op.name)
    if (found === undefined) {
      const refusal = await quotaRefusal(op.userId, op.quota, ts)
      if (refusal !== undefined) return { kind: 'room-enter', refusal }
      const room = await create(op.name, 'public', op.userId, ts)
      if (room !== undefined) return { kind: 'room-enter', room: record(room), role: 'owner' }
      // Another VM created it just now: enter it as it is.
      found = await findRoom(op.name, true)
      if (found === undefined) throw new Error(`room ${op.name} neither exists nor can be created`)
    }
    const room = record(found)
    const role = await roleOf(room.id, op.userId)
    if (role !== undefined) return { kind: 'room-enter', room, role }
    if (room.visibility === 'private' || await isBanned(room.id, op.userId)) {
      return { kind: 'room-enter', room, refusal: forbidden(op.name) }
    }
    await addMember(room.id, op.userId, 'member', ts)
    return { kind: 'room-enter', room, role: 'member' }
  }

  async function moderate (op: ModerateOp, ts: number): Promise<ModerateResult> {
    const room = await roomById(op.roomId)
    const actorRole = room === undefined ? undefined : await roleOf(op.roomId, op.actorId)
    const result = (changed: boolean, refusal?: Refusal): ModerateResult =>
      refusal === undefined ? { kind: 'moderate', changed } : { kind: 'moderate', changed, refusal }
    if (room === undefined || actorRole === undefined) return result(false, refuse('E_FORBIDDEN', 'not allowed in this room'))
    const needed = op.action === 'role' ? 'owner' : 'moderator'
    if (RANK[actorRole] < RANK[needed]) return result(false, refuse('E_FORBIDDEN', `${op.action} needs the ${needed} role`))
    if (room.direct) return result(false, refuse('E_FORBIDDEN', 'a direct-message room has no moderation'))
    const targetRole = await roleOf(op.roomId, op.userId)

    switch (op.action) {
      case 'invite':
        if (targetRole !== undefined) return result(false)
        if (!await isKnownUser(op.userId)) return result(false, refuse('E_VALIDATION', 'unknown userId'))
        if (await isBanned(op.roomId, op.userId)) return result(false, refuse('E_FORBIDDEN', 'that user is banned from the room; unban first'))
        return result(await addMember(op.roomId, op.userId, 'member', ts) > 0)
      case 'kick':
      case 'ban': {
        if (targetRole === 'owner') return result(false, refuse('E_FORBIDDEN', `nobody can ${op.action} the owner`))
        if (targetRole !== undefined && RANK[targetRole] >= RANK[actorRole]) {
          return result(false, refuse('E_FORBIDDEN', `only the owner can ${op.action} a moderator`))
        }
        const removeMember = async (): Promise<number> =>
          await changes('DELETE FROM memberships WHERE room_id = $1 AND user_id = $2', [op.roomId, op.userId], 'rooms.removeMember')
        if (op.action === 'kick') return result(await removeMember() > 0)
        if (!await isKnownUser(op.userId)) return result(false, refuse('E_VALIDATION', 'unknown userId'))
        await removeMember()
        return result(await changes('INSERT INTO bans (room_id, user_id, banned_by, banned_at) VALUES ($1, $2, $3, $4) ON CONFLICT (room_id, user_id) DO NOTHING',
          [op.roomId, op.userId, op.actorId, ts], 'rooms.addBan') > 0)
      }
      case 'unban':
        return result(await changes('DELETE FROM bans WHERE room_id = $1 AND user_id = $2', [op.roomId, op.userId], 'rooms.removeBan') > 0)
      case 'role':
        if (targetRole === 'owner') return result(false, refuse('E_FORBIDDEN', 'nobody can change the role of the owner'))
        if (targetRole === undefined) return result(false, refuse('E_VALIDATION', 'that user is not a member of the room'))
        return result(await changes('UPDATE memberships SET role = $1 WHERE room_id = $2 AND user_id = $3',
          [op.role ?? 'member', op.roomId, op.userId], 'rooms.setRole') > 0 && targetRole !== op.role)
    }
  }

  async function openDirect (op: OpenDirectOp, ts: number): Promise<OpenDirectResult> {
    if (!await isKnownUser(op.otherUserId)) return { kind: 'dm-open', refusal: refuse('E_VALIDATION', 'unknown userId') }
    let found = await findRoom(op.name)
    if (found === undefined) {
      const id = await insertRoom(op.name, ts, 'private', true, null)
      // Another VM created it just now: use it as it is.
      found = id === undefined ? await findRoom(op.name, true) : { id, visibility: 'private', direct: true }
      if (found === undefined) throw new Error(`room ${op.name} neither exists nor can be created`)
    }
    if (!found.direct) {
      return { kind: 'dm-open', refusal: refuse('E_CONFLICT', `room ${op.name} exists and is not a direct-message room`) }
    }
    await addMember(found.id, op.userId, 'member', ts)
    await addMember(found.id, op.otherUserId, 'member', ts)
    return { kind: 'dm-open', room: record(found) }
  }

  async function deleteMessage (op: DeleteMessageOp): Promise<DeleteMessageResult> {
    const message = await one<{ seq: number, user_id: string, deleted: boolean }>(
      'SELECT seq, user_id, deleted FROM messages WHERE id = $1 AND room_id = $2', [op.id, op.roomId], 'rooms.findMessage')
    if (message === undefined) return { kind: 'message-delete', changed: false, refusal: refuse('E_NOT_FOUND', 'no such message in this room') }
    if (message.user_id !== op.actorId) {
      const role = await roleOf(op.roomId, op.actorId)
      if (role !== 'owner' && role !== 'moderator') {
        return { kind: 'message-delete', changed: false, refusal: refuse('E_FORBIDDEN', "only the owner or a moderator may delete another user's message") }
      }
    }
    if (message.deleted) return { kind: 'message-delete', seq: message.seq, changed: false }
    await q("UPDATE messages SET text = '', deleted = true WHERE room_id = $1 AND seq = $2", [op.roomId, message.seq], 'rooms.tombstone')
    return { kind: 'message-delete', seq: message.seq, changed: true }
  }

  /** Whether an account has this name, whatever its case (under the name's advisory lock). */
  const accountNamed = async (username: string): Promise<boolean> =>
    await one("SELECT 1 AS one FROM users WHERE kind = 'account' AND lower(username) = lower($1)", [username], 'users.accountNamed') !== undefined

  /** 1 when the account was created, 0 when the name (any case) is an account's already. */
  const insertAccount = async (userId: string, username: string, passwordHash: string, ts: number): Promise<number> =>
    await changes("INSERT INTO users (id, username, kind, password_hash, created_at) VALUES ($1, $2, 'account', $3, $4) " +
      "ON CONFLICT (lower(username)) WHERE kind = 'account' DO NOTHING", [userId, username, passwordHash, ts], 'users.insertAccount')

  const insertGuest = async (userId: string, username: string, ts: number): Promise<void> => {
    await q("INSERT INTO users (id, username, kind, password_hash, created_at) VALUES ($1, $2, 'guest', NULL, $3)", [userId, username, ts], 'users.insertGuest')
  }

  /** Revokes a token until it expires; expired entries are useless (the expiry check refuses their tokens): dropped as we go. */
  const revoke = async (key: string, expiresAtMs: number, pruneBefore: number): Promise<void> => {
    await q('INSERT INTO revoked_tokens (token_key, expires_at) VALUES ($1, $2) ON CONFLICT (token_key) DO NOTHING', [key, expiresAtMs], 'tokens.revoke')
    await q('DELETE FROM revoked_tokens WHERE expires_at < $1', [pruneBefore], 'tokens.prune')
  }

  return { createRoom, enterRoom, moderate, openDirect, deleteMessage, accountNamed, insertAccount, insertGuest, revoke }
}
