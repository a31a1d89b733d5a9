import type { Session } from '../client/index.js'

/** The signed-in session, kept for this tab only (sessionStorage), dropped once expired. */

const KEY = 'chat.session'

export function loadSession (): Session | undefined {
  try {
    const stored = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as Partial<Session> | null
    if (typeof stored?.token !== 'string' || typeof stored.username !== 'string' || typeof stored.userId !== 'string' ||
      typeof stored.expiresAt !== 'string' || !(Date.parse(stored.expiresAt) > Date.now())) return undefined
    return stored as Session
  } catch {
    return undefined
  }
}

export function saveSession (session: Session): void {
  try {
    sessionStorage.setItem(KEY, JSON.stringify(session))
  } catch {
    // Storage off (private mode): the session lasts as long as the page.
  }
}

export function forgetSession (): void {
  try {
    sessionStorage.removeItem(KEY)
  } catch {}
}
