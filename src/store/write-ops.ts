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

export interface EnsureUserOp {
  kind: 'user'
  username: string
}

export type WriteOp = AppendOp | EnsureRoomOp | EnsureUserOp

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

export interface EnsureUserResult {
  kind: 'user'
  userId: string
  username: string
}

export type WriteResult = AppendResult | EnsureRoomResult | EnsureUserResult

export type ResultOf<T extends WriteOp> =
  T extends AppendOp ? AppendResult : T extends EnsureRoomOp ? EnsureRoomResult : EnsureUserResult

/** A committed new message with its room's id, as the primary broadcasts it to every worker. */
export type CommittedMessage = [roomId: number, message: Message]

export interface WriterThreadData {
  file: string
  sync: 'full' | 'normal'
}
