import type { Socket } from 'socket.io-client'
import type { ClientEventName, ClientToServerEvents, ServerToClientEvents } from '../protocol/events.js'

/**
 * One client → server event and its ack, as a value: the ack, or undefined when none came (the
 * connection was down, dropped before the answer, or the answer took longer than the timeout).
 * Undefined means "outcome unknown", which is why every send carries a clientMsgId. Nothing is
 * buffered while offline: socket.io-client would replay buffered emits on reconnect, behind
 * the client's back.
 */

export type ChatSocket = Socket<ServerToClientEvents, ClientToServerEvents>

export type PayloadOf<E extends ClientEventName> = Parameters<ClientToServerEvents[E]>[0]
export type AckOf<E extends ClientEventName> = Parameters<Parameters<ClientToServerEvents[E]>[1]>[0]
export type Requester = <E extends ClientEventName>(event: E, payload: PayloadOf<E>) => Promise<AckOf<E> | undefined>

export function createRequester (socket: () => ChatSocket | undefined, timeoutMs: number): Requester {
  return async <E extends ClientEventName>(event: E, payload: PayloadOf<E>): Promise<AckOf<E> | undefined> => {
    const current = socket()
    if (current?.connected !== true) return undefined
    const emitter = current.timeout(timeoutMs) as unknown as { emitWithAck: (event: E, payload: PayloadOf<E>) => Promise<AckOf<E>> }
    try {
      return await emitter.emitWithAck(event, payload)
    } catch {
      return undefined
    }
  }
}
