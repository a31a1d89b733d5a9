import type { Message } from '../protocol/schemas.js'

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

export interface EnsureRoomOp {
  kind: 'room'
  name: string
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

export type WriteOp = AppendOp | EnsureRoomOp | RegisterOp | GuestOp | RevokeOp

export interface AppendResult {
  kind: 'append'
  id: string
  seq: number
  ts: number
  /** True when (room, user, clientMsgId) was already stored: nothing new was written. */
  duplicate: boolean
}

export interface EnsureRoomResult {
  kind: 'room'
  id: number
  lastSeq: number
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

export type WriteResult = AppendResult | EnsureRoomResult | RegisterResult | GuestResult | RevokeResult

export type ResultOf<T extends WriteOp> =
  T extends AppendOp ? AppendResult
    : T extends EnsureRoomOp ? EnsureRoomResult
      : T extends RegisterOp ? RegisterResult
        : T extends GuestOp ? GuestResult
          : RevokeResult

/** A committed new message with its room's id, as the primary broadcasts it to every worker. */
export type CommittedMessage = [roomId: number, message: Message]

export interface WriterThreadData {
  file: string
  sync: 'full' | 'normal'
}
