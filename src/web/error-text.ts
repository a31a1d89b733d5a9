import type { ClientError } from '../client/index.js'
import { TEXT_MAX_CODE_POINTS } from '../client/index.js'

/** Error codes as sentences a person can act on (the server's own messages are for developers). */

const TEXTS: Readonly<Record<string, string>> = {
  E_RATE_LIMITED: 'You are sending too fast.',
  E_MODERATED: 'Your message was blocked by moderation.',
  E_TOO_LARGE: `Your message is too long (at most ${TEXT_MAX_CODE_POINTS} characters).`,
  E_OVERLOADED: 'The server is busy.',
  E_VALIDATION: 'That was not accepted: check what you typed.',
  E_UNAUTHORIZED: 'Your session has ended. Please sign in again.',
  E_FORBIDDEN: 'That is not allowed.',
  E_NOT_MEMBER: 'You are not in this room.',
  E_NOT_FOUND: 'Not found.',
  E_CONFLICT: 'That name is taken.',
  E_INTERNAL: 'Something went wrong on the server.',
  E_NO_ANSWER: 'The server did not answer in time.',
  E_NETWORK: 'Cannot reach the server. Check your connection.',
  E_CLOSED: 'Disconnected.'
}

export function describeError (error: Pick<ClientError, 'code'>): string {
  return TEXTS[error.code] ?? 'Something went wrong.'
}

/** The sentence shown while the client waits `seconds` before trying again. */
export function describeWait (error: Pick<ClientError, 'code'>, seconds: number): string {
  if (error.code === 'E_RATE_LIMITED') return `You are sending too fast. You can send again in ${seconds} s.`
  return `${describeError(error)} Trying again in ${seconds} s.`
}
