import { ChatClientError, type ClientError } from './errors.js'

/**
 * `POST /api/sessions` (PROTOCOL.md, Identity): a username (a guest: a new identity each time)
 * or a username and password (an account) in, a signed token out; `POST /api/users` creates an
 * account; `POST /api/sessions/renew` swaps a valid token for a fresh one of the same identity.
 */

export interface Session {
  token: string
  userId: string
  username: string
  /** ISO 8601. */
  expiresAt: string
}

export interface Account {
  userId: string
  username: string
}

async function request (url: URL, init: RequestInit, fetchImpl: typeof fetch): Promise<{ status: number, body: Record<string, unknown> & { error?: ClientError } | undefined }> {
  let response: Response
  try {
    response = await fetchImpl(url, init)
  } catch (error) {
    throw new ChatClientError({ code: 'E_NETWORK', message: `cannot reach the server: ${String(error)}` })
  }
  return { status: response.status, body: await response.json().catch(() => undefined) as Record<string, unknown> | undefined }
}

function postJson (body: unknown): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }
}

function failure (status: number, body: { error?: ClientError } | undefined, what: string): ChatClientError {
  return new ChatClientError(body?.error ?? { code: status >= 500 ? 'E_INTERNAL' : 'E_VALIDATION', message: `${what} failed with HTTP ${status}` })
}

async function session (url: URL, init: RequestInit, fetchImpl: typeof fetch, what: string): Promise<Session> {
  const answer = await request(url, init, fetchImpl)
  if (answer.status === 201 && typeof answer.body?.token === 'string') return answer.body as unknown as Session
  throw failure(answer.status, answer.body, what)
}

/**
 * Signs in: as a guest with a username alone (a new identity each time), into an account with
 * its password. Throws ChatClientError with the server's code (E_UNAUTHORIZED, E_VALIDATION,
 * E_RATE_LIMITED…) or E_NETWORK.
 */
export async function signIn (baseUrl: string, username: string, fetchImpl: typeof fetch = fetch, password?: string): Promise<Session> {
  return await session(new URL('/api/sessions', baseUrl), postJson(password === undefined ? { username } : { username, password }), fetchImpl, 'sign-in')
}

/** A fresh token for the session's identity; E_UNAUTHORIZED once the token expired or was revoked. */
export async function renewSession (baseUrl: string, token: string, fetchImpl: typeof fetch = fetch): Promise<Session> {
  return await session(new URL('/api/sessions/renew', baseUrl), { method: 'POST', headers: { authorization: `Bearer ${token}` } }, fetchImpl, 'renewal')
}

/** Creates an account (`POST /api/users`); a taken username is E_CONFLICT. */
export async function signUp (baseUrl: string, username: string, password: string, fetchImpl: typeof fetch = fetch): Promise<Account> {
  const answer = await request(new URL('/api/users', baseUrl), postJson({ username, password }), fetchImpl)
  if (answer.status === 201 && typeof answer.body?.userId === 'string') return answer.body as unknown as Account
  throw failure(answer.status, answer.body, 'sign-up')
}

/** Milliseconds until the session's token expires (negative once it has). */
export function sessionLifetimeMs (session: Session, now = Date.now()): number {
  return Date.parse(session.expiresAt) - now
}
