import { createSigner, createVerifier } from 'fast-jwt'
import { ChatError } from './errors.js'

/**
 * Identity tokens: HS256 JWTs with `sub` = userId, `name` = username, `iat` and `exp`. Only
 * HS256 is accepted (no `alg: none`, no algorithm confusion); identity in every broadcast comes
 * from a verified token alone.
 */

export interface Identity {
  userId: string
  username: string
  /** Expiry, epoch milliseconds. */
  expiresAtMs: number
}

export interface Tokens {
  issue: (userId: string, username: string) => { token: string, expiresAt: string, expiresAtMs: number }
  /** Verifies a token; throws ChatError E_UNAUTHORIZED for anything missing, forged, expired or malformed. */
  verify: (token: unknown) => Identity
}

export function createTokens (secret: string, ttlSeconds: number): Tokens {
  const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: ttlSeconds * 1000 })
  const verifyJwt = createVerifier({ key: secret, algorithms: ['HS256'], cache: 10_000 })

  return {
    issue (userId, username) {
      const token = sign({ sub: userId, name: username })
      const payload = verifyJwt(token) as { exp: number }
      const expiresAtMs = payload.exp * 1000
      return { token, expiresAt: new Date(expiresAtMs).toISOString(), expiresAtMs }
    },
    verify (token) {
      if (typeof token !== 'string' || token.length === 0 || token.length > 4096) {
        throw new ChatError('E_UNAUTHORIZED', 'a token is required')
      }
      let payload: { sub?: unknown, name?: unknown, exp?: unknown }
      try {
        payload = verifyJwt(token)
      } catch (error) {
        const code = (error as { code?: string }).code
        throw new ChatError('E_UNAUTHORIZED', code === 'FAST_JWT_EXPIRED' ? 'token expired' : 'invalid token')
      }
      if (typeof payload.sub !== 'string' || typeof payload.name !== 'string' || typeof payload.exp !== 'number') {
        throw new ChatError('E_UNAUTHORIZED', 'token lacks sub, name or exp')
      }
      return { userId: payload.sub, username: payload.name, expiresAtMs: payload.exp * 1000 }
    }
  }
}
