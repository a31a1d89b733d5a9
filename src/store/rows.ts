import type { Message } from '../protocol/schemas.js'

/** A messages row as stored; `room` comes from the rooms table or the caller. */
export interface MessageRow {
  seq: number
  id: string
  user_id: string
  username: string
  text: string
  ts: number
  client_msg_id: string
  deleted: number
}

export const MESSAGE_COLUMNS = 'seq, id, user_id, username, text, ts, client_msg_id, deleted'

/** A deleted message keeps its place (seq) as a tombstone: empty text and `deleted: true`. */
export function toMessage (room: string, row: MessageRow): Message {
  if (row.deleted !== 0) {
    return { id: row.id, room, seq: row.seq, userId: row.user_id, username: row.username, text: '', ts: row.ts, clientMsgId: row.client_msg_id, deleted: true }
  }
  return {
    id: row.id,
    room,
    seq: row.seq,
    userId: row.user_id,
    username: row.username,
    text: row.text,
    ts: row.ts,
    clientMsgId: row.client_msg_id
  }
}
