import { ChatClientError, type ClientError } from './errors.js'

/**
 * `POST /api/sessions` (PROTOCOL.md, Identity): a username (a guest: a new identity each time)
 * or a username and password (an account) in, a signed token out; `POST /api/sessions/renew`
 * swaps a valid token for a fresh one of the same identity.
 */

export interface Session {
  token: string
  userId: string
  username: string
  /** ISO 8601. */
  expiresAt: string
}

/** Signs in; throws ChatClientError with the server's code (E_VALIDATION, E_UNAUTHORIZED, E_RATE_LIMITED…) or E_NETWORK. */
export async function signIn (baseUrl: string, username: string, fetchImpl: typeof fetch = fetch, password?: string): Promise<Session> {
  return await sessionRequest(fetchImpl, new URL('/api/sessions', baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(password === undefined ? { username } : { username, password })
  })
}

/** A fresh token for the session's identity; E_UNAUTHORIZED once the token expired or was revoked. */
export async function renewSession (baseUrl: string, token: string, fetchImpl: typeof fetch = fetch): Promise<Session> {
  return await sessionRequest(fetchImpl, new URL('/api/sessions/renew', baseUrl), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` }
  })
}

async function sessionRequest (fetchImpl: typeof fetch, url: URL, init: RequestInit): Promise<Session> {
  let response: Response
  try {
    response = await fetchImpl(url, init)
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
