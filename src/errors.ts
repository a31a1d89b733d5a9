/**
 * Every error code of the wire protocol (PROTOCOL.md) in one place, with the HTTP status a REST
 * route answers it with. Callers branch on `code`, never on message text.
 */
export const ErrorCodes = {
  E_VALIDATION: 400,
  E_UNAUTHORIZED: 401,
  E_FORBIDDEN: 403,
  E_NOT_MEMBER: 403,
  E_NOT_FOUND: 404,
  E_CONFLICT: 409,
  E_TOO_LARGE: 413,
  E_MODERATED: 422,
  E_RATE_LIMITED: 429,
  E_INTERNAL: 500,
  E_OVERLOADED: 503,
} as const

export type ErrorCode = keyof typeof ErrorCodes

/** The error half of every ack: `{ ok: false, error }`. */
export interface ErrorBody {
  code: ErrorCode
  message: string
  retryAfterMs?: number
}

/** An expected failure carried as a value (acks, REST answers) rather than thrown past its handler. */
export class ChatError extends Error {
  readonly code: ErrorCode
  readonly retryAfterMs: number | undefined
  /** HTTP status for REST answers; defaults to the code's own (415 is E_VALIDATION with its own status). */
  readonly statusCode: number

  constructor (code: ErrorCode, message: string, options: { retryAfterMs?: number, statusCode?: number } = {}) {
    super(message)
    this.name = 'ChatError'
    this.code = code
    this.retryAfterMs = options.retryAfterMs
    this.statusCode = options.statusCode ?? ErrorCodes[code]
  }

  toBody (): ErrorBody {
    return errorBody(this.code, this.message, this.retryAfterMs)
  }
}

/** Builds the `{ code, message, retryAfterMs? }` object, leaving `retryAfterMs` out when absent. */
export function errorBody (code: ErrorCode, message: string, retryAfterMs?: number): ErrorBody {
  const body: ErrorBody = { code, message }
  if (retryAfterMs !== undefined) body.retryAfterMs = Math.max(0, Math.ceil(retryAfterMs))
  return body
}

export function isChatError (value: unknown): value is ChatError {
  return value instanceof ChatError
}
