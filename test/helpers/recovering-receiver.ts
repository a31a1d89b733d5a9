import type { RoomJoinOk } from '../../src/protocol/events.js'
import type { Message } from '../../src/protocol/schemas.js'
import { connect, request, type ChatClient, type ConnectOptions } from './client.js'

/**
 * A client that does what PROTOCOL.md asks of a reconnecting client: on every (re)connect it
 * rejoins its room with `since` = the last seq it holds, pages through `hasMore`, and keeps
 * every message it receives, live or recovered, in arrival order (duplicates included, so a
 * test can see them).
 */
export interface RecoveringReceiver {
  socket: ChatClient
  received: Message[]
  reconnects: number
  disconnectReasons: string[]
  lastSeq: () => number
}

interface Teardown { teardown: (fn: () => unknown) => void }

export async function recoveringReceiver (t: Teardown, url: string, token: string, room: string, options: ConnectOptions = {}): Promise<RecoveringReceiver> {
  const socket = await connect(t, url, token, { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 1000, randomizationFactor: 0.5, ...options })
  const state: RecoveringReceiver = {
    socket,
    received: [],
    reconnects: 0,
    disconnectReasons: [],
    lastSeq: () => state.received.at(-1)?.seq ?? 0
  }
  let joining = Promise.resolve()
  const rejoin = async (): Promise<void> => {
    for (;;) {
      const ack = await request<RoomJoinOk>(socket, 'room:join', { room, since: state.lastSeq() })
      if (!ack.ok) throw new Error(`rejoin failed: ${ack.error.code}`)
      state.received.push(...ack.missed)
      if (!ack.hasMore) return
    }
  }
  socket.on('message', (message) => { if (message.room === room) state.received.push(message) })
  socket.on('disconnect', (reason) => { state.disconnectReasons.push(reason) })
  socket.io.on('reconnect', () => {
    state.reconnects++
    joining = joining.then(rejoin).catch(() => {})
  })
  await rejoin()
  return state
}
