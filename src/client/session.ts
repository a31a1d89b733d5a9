import { ChatClientError, type ClientError } from './errors.js'

/** `POST /api/sessions` (PROTOCOL.md, Identity): a username in, a signed token out. */

export interface Session {
  token: string
  userId: string
  username: string
  /** ISO 8601. */
  expiresAt: string
}

/** Signs in; throws ChatClientError with the server's code (E_VALIDATION, E_RATE_LIMITED…) or E_NETWORK. */
export async function signIn (baseUrl: string, username: string, fetchImpl: typeof fetch = fetch): Promise<Session> {
  let response: Response
  try {
    response = await fetchImpl(new URL('/api/sessions', baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username })
    })
  } catch (error) {
    throw new ChatClientError({ code: 'E_NETWORK', message: `cannot reach the server: ${String(error)}` })
  }
  const body = await response.json().catch(() => undefined) as Partial<Session> & { error?: ClientError } | undefined
  if (response.status === 201 && typeof body?.token === 'string') return body as Session
  throw new ChatClientError(body?.error ?? { code: response.status >= 500 ? 'E_INTERNAL' : 'E_VALIDATION', message: `sign-in failed with HTTP ${response.status}` })
}

/** Milliseconds until the session's token expires (negative once it has). */
export function sessionLifetimeMs (session: Session, now = Date.now()): number {
  return Date.parse(session.expiresAt) - now
}
