import { ChatError } from '../../errors.js'
import type { Ack, AuthRefreshOk } from '../../protocol/events.js'
import { authRefreshPayload } from '../../protocol/schemas.js'
import type { RealtimeContext } from '../context.js'
import { parse } from '../dispatch.js'
import type { ChatSocket } from '../types.js'

/** `auth:refresh` (an addition to PROTOCOL.md): a fresh token for the same user extends the socket's session. */
export function refreshAuth (context: RealtimeContext) {
  return (socket: ChatSocket, payload: unknown): Ack<AuthRefreshOk> => {
    const { token } = parse(authRefreshPayload, payload)
    const identity = context.tokens.verify(token)
    if (identity.userId !== socket.data.userId) throw new ChatError('E_FORBIDDEN', 'the token belongs to another user')
    socket.data.expiresAtMs = identity.expiresAtMs
    socket.data.tokenKey = identity.revocationKey
    return { ok: true, expiresAt: new Date(identity.expiresAtMs).toISOString() }
  }
}
