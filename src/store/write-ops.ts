/**
 * The operations a worker sends to its store thread, batched into one transaction (group commit),
 * and their results. Plain data only: they cross a thread boundary by structured clone.
 */

export interface AppendOp {
  kind: 'append'
  roomId: number
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

export interface WriterThreadData {
  file: string
  sync: 'full' | 'normal'
}
