import type { Ack, RoomJoinOk } from '../../src/protocol/events.js'
import type { Message } from '../../src/protocol/schemas.js'
import { connect, type ChatClient, type ConnectOptions } from './client.js'

/**
 * A client that does what PROTOCOL.md asks of a reconnecting client: after every (re)connect it
 * rejoins its room with `since` = the last seq it holds and pages through `hasMore`; it keeps
 * every message it receives, live or recovered, in arrival order (duplicates included, so a test
 * can see them). A refused handshake (E_OVERLOADED) stops socket.io-client's own retries, so it
 * waits retryAfterMs and connects again.
 *
 * The join ack is handled in its callback, not after an `await`: a live message that follows the
 * ack in the same network read is dispatched before any promise continuation would run.
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
  const rejoin = async (): Promise<void> => await new Promise((resolve) => {
    const join = (): void => {
      if (!socket.connected) { resolve(); return }
      socket.timeout(10_000).emit('room:join', { room, since: state.lastSeq() }, (error: Error | null, ack: Ack<RoomJoinOk>) => {
        if (error !== null || !ack.ok) { resolve(); return } // the next connect rejoins
        state.received.push(...ack.missed)
        if (ack.hasMore) join()
        else resolve()
      })
    }
    join()
  })
  socket.on('message', (message) => { if (message.room === room) state.received.push(message) })
  socket.on('disconnect', (reason) => { state.disconnectReasons.push(reason) })
  socket.on('connect', () => {
    state.reconnects++
    void rejoin()
  })
  socket.on('connect_error', (error: Error & { data?: { code?: string, retryAfterMs?: number } }) => {
    if (error.data?.code !== 'E_OVERLOADED') return
    setTimeout(() => { socket.connect() }, error.data.retryAfterMs ?? 1000)
  })
  await rejoin()
  return state
}
