import { ChatClientError, type ClientError } from './errors.js'

/**
 * `POST /api/sessions` (PROTOCOL.md, Identity): a username (a guest, or 1.0) or a username and
 * password (an account, 1.1) in, a signed token out; `POST /api/users` creates an account.
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

async function post (baseUrl: string, path: string, body: unknown, fetchImpl: typeof fetch): Promise<{ status: number, body: Record<string, unknown> & { error?: ClientError } | undefined }> {
  let response: Response
  try {
    response = await fetchImpl(new URL(path, baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body)
    })
  } catch (error) {
    throw new ChatClientError({ code: 'E_NETWORK', message: `cannot reach the server: ${String(error)}` })
  }
  return { status: response.status, body: await response.json().catch(() => undefined) as Record<string, unknown> | undefined }
}

function failure (status: number, body: { error?: ClientError } | undefined, what: string): ChatClientError {
  return new ChatClientError(body?.error ?? { code: status >= 500 ? 'E_INTERNAL' : 'E_VALIDATION', message: `${what} failed with HTTP ${status}` })
}

/**
 * Signs in: as a guest (or a 1.0 user) with a username alone, into an account with its password.
 * Throws ChatClientError with the server's code (E_UNAUTHORIZED, E_VALIDATION, E_RATE_LIMITED…)
 * or E_NETWORK.
 */
export async function signIn (baseUrl: string, username: string, fetchImpl: typeof fetch = fetch, password?: string): Promise<Session> {
  const answer = await post(baseUrl, '/api/sessions', password === undefined ? { username } : { username, password }, fetchImpl)
  if (answer.status === 201 && typeof answer.body?.token === 'string') return answer.body as unknown as Session
  throw failure(answer.status, answer.body, 'sign-in')
}

/** Creates an account (`POST /api/users`); a taken username is E_CONFLICT. */
export async function signUp (baseUrl: string, username: string, password: string, fetchImpl: typeof fetch = fetch): Promise<Account> {
  const answer = await post(baseUrl, '/api/users', { username, password }, fetchImpl)
  if (answer.status === 201 && typeof answer.body?.userId === 'string') return answer.body as unknown as Account
  throw failure(answer.status, answer.body, 'sign-up')
}

/** Milliseconds until the session's token expires (negative once it has). */
export function sessionLifetimeMs (session: Session, now = Date.now()): number {
  return Date.parse(session.expiresAt) - now
}
