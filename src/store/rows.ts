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
}

export const MESSAGE_COLUMNS = 'seq, id, user_id, username, text, ts, client_msg_id'

export function toMessage (room: string, row: MessageRow): Message {
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
