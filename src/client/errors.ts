import type { ErrorCode } from '../errors.js'

/**
 * The client's failures: the protocol's error codes plus three of its own for what no server
 * said: no answer came (timeout or a dropped connection), the network failed, or the client was
 * closed. Callers branch on `code`.
 */

export type ClientErrorCode = ErrorCode | 'E_NO_ANSWER' | 'E_NETWORK' | 'E_CLOSED'

/** A failure as a value (send outcomes, events). */
export interface ClientError {
  code: ClientErrorCode
  message: string
  retryAfterMs?: number
}

/** A failure as an exception (signIn, join). */
export class ChatClientError extends Error implements ClientError {
  readonly code: ClientErrorCode
  readonly retryAfterMs?: number

  constructor (error: ClientError) {
    super(error.message)
    this.name = 'ChatClientError'
    this.code = error.code
    if (error.retryAfterMs !== undefined) this.retryAfterMs = error.retryAfterMs
  }
}

export const NO_ANSWER: ClientError = Object.freeze({ code: 'E_NO_ANSWER', message: 'no answer from the server' })
export const CLOSED: ClientError = Object.freeze({ code: 'E_CLOSED', message: 'the client was closed' })
