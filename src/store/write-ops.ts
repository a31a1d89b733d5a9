import type { ErrorCode } from '../errors.js'
import type { MemberRole, Message, Visibility } from '../protocol/schemas.js'

/**
 * The operations a worker sends to the store (over IPC to the primary, whose store thread commits
 * them, many workers' at once, in one transaction), and their results. Plain data only: they
 * cross process and thread boundaries by structured clone.
 */

export interface AppendOp {
  kind: 'append'
  roomId: number
  /** The room's name, for the broadcast of the committed message. */
  room: string
  userId: string
  username: string
  text: string
  clientMsgId: string
}

/** Room-creation quotas of one user, checked under the write lock (rooms they created). */
export interface CreationQuota {
  perHour: number
  max: number
}

/** `room:create`: a new room owned by `userId`; an existing name is a conflict. */
export interface CreateRoomOp {
  kind: 'room-create'
  name: string
  visibility: Visibility
  userId: string
  quota: CreationQuota
}

/**
 * `room:join` by a user who is not yet a member: creates the room (public, the user its owner)
 * when it does not exist; makes the user a member of a public room unless banned; a private
 * room admits members only.
 */
export interface EnterRoomOp {
  kind: 'room-enter'
  name: string
  userId: string
  quota: CreationQuota
}

/** The moderation actions, each checked against the actor's and the target's roles. */
export interface ModerateOp {
  kind: 'moderate'
  action: 'invite' | 'kick' | 'ban' | 'unban' | 'role'
  roomId: number
  actorId: string
  userId: string
  /** For `role`. */
  role?: 'moderator' | 'member'
}

/** `dm:open`: the direct-message room of two users, created with both as members if missing. */
export interface OpenDirectOp {
  kind: 'dm-open'
  name: string
  userId: string
  otherUserId: string
}

/** `message:delete`: a tombstone (text '', deleted) by the author, the owner or a moderator. */
export interface DeleteMessageOp {
  kind: 'message-delete'
  roomId: number
  id: string
  actorId: string
}

/** A new account; refused (`conflict`) when an account has the name, whatever its case. */
export interface RegisterOp {
  kind: 'register'
  username: string
  /** passwords.ts's encoded scrypt hash. */
  passwordHash: string
}

/** A new guest identity (a new userId every time); refused when an account has the name. */
export interface GuestOp {
  kind: 'guest'
  username: string
}

/** Revokes a token until it expires; the primary tells every worker after the commit. */
export interface RevokeOp {
  kind: 'revoke'
  key: string
  expiresAtMs: number
}

export type WriteOp = AppendOp | CreateRoomOp | EnterRoomOp | ModerateOp | OpenDirectOp | DeleteMessageOp | RegisterOp | GuestOp | RevokeOp

export interface AppendResult {
  kind: 'append'
  id: string
  seq: number
  ts: number
  /** True when (room, user, clientMsgId) was already stored: nothing new was written. */
  duplicate: boolean
}

export type RegisterResult =
  | { kind: 'register', conflict: false, userId: string, username: string }
  | { kind: 'register', conflict: true }

export type GuestResult =
  | { kind: 'guest', refused: false, userId: string, username: string }
  | { kind: 'guest', refused: true }

export interface RevokeResult {
  kind: 'revoke'
}

/** An expected refusal decided under the write lock, as plain data (it crosses two boundaries). */
export interface Refusal {
  code: ErrorCode
  message: string
  retryAfterMs?: number
}

/** A room as the store describes it. */
export interface RoomRecord {
  id: number
  visibility: Visibility
  direct: boolean
}

export interface RoomResult {
  kind: 'room-create' | 'room-enter'
  room?: RoomRecord
  /** The caller's role in the room after the op. */
  role?: MemberRole
  refusal?: Refusal
}

export interface ModerateResult {
  kind: 'moderate'
  /** False when the op found nothing to change (kicking a non-member, a second unban). */
  changed: boolean
  refusal?: Refusal
}

export interface OpenDirectResult {
  kind: 'dm-open'
  room?: RoomRecord
  refusal?: Refusal
}

export interface DeleteMessageResult {
  kind: 'message-delete'
  seq?: number
  changed: boolean
  refusal?: Refusal
}

export type WriteResult = AppendResult | RoomResult | ModerateResult | OpenDirectResult | DeleteMessageResult | RegisterResult | GuestResult | RevokeResult

interface ResultsByKind {
  append: AppendResult
  'room-create': RoomResult
  'room-enter': RoomResult
  moderate: ModerateResult
  'dm-open': OpenDirectResult
  'message-delete': DeleteMessageResult
  register: RegisterResult
  guest: GuestResult
  revoke: RevokeResult
}

export type ResultOf<T extends WriteOp> = ResultsByKind[T['kind']]

/** A committed new message with its room's id, as the primary broadcasts it to every worker. */
export type CommittedMessage = [roomId: number, message: Message]

export interface WriterThreadData {
  file: string
  sync: 'full' | 'normal'
}
