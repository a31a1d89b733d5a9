import type { FastifyInstance } from 'fastify'
import { clientAddressOf } from '../cluster/client-address.js'
import { ChatError } from '../errors.js'
import type { WorkerMetrics } from '../ops/metrics.js'
import { dummyHash, verifyPassword } from '../passwords.js'
import { describeIssue, sessionRequestBody } from '../protocol/schemas.js'
import type { StoreReader } from '../store/store.js'
import type { StoreClient } from '../store/store-client.js'
import type { Tokens } from '../tokens.js'
import { bearerIdentity } from './auth.js'
import { requireJson } from './json-body.js'
import type { SignInThrottle } from './sign-in-throttle.js'

/**
 * `POST /api/sessions`: a signed token for an account (`{ username, password }`) or for a new
 * guest (`{ username }`, while GUESTS is on: a new userId every time, refused for a name that
 * belongs to an account). A wrong password and an unknown account get the same answer, after
 * the same work (a hash check against a dummy hash). `POST /api/sessions/renew` (bearer) issues
 * a fresh token for the same identity, so a client keeps its userId past its token's lifetime
 * without a password or a new guest identity. `DELETE /api/sessions` revokes the bearer token
 * everywhere. A deployment that mints tokens elsewhere turns both off with
 * SESSIONS_ROUTE=false.
 */

export interface SessionRouteOptions {
  tokens: Tokens
  reader: StoreReader
  writer: StoreClient
  throttle: SignInThrottle
  guests: boolean
  perMinute: number
  metrics?: WorkerMetrics | undefined
}

/** The one answer for a wrong password, an unknown account and a guest using an account's name. */
const BAD_CREDENTIALS = 'wrong username or password'

export async function sessionRoutes (app: FastifyInstance, options: SessionRouteOptions): Promise<void> {
  // Made now, not on the first sign-in to an unknown name (whose answer would then take longer).
  await dummyHash()

  app.post('/api/sessions', {
    config: { rateLimit: { max: options.perMinute, timeWindow: 60_000 } },
    onRequest: requireJson
  }, async (request, reply) => {
    const parsed = sessionRequestBody.safeParse(request.body)
    if (!parsed.success) throw new ChatError('E_VALIDATION', describeIssue(parsed.error))
    const { username, password } = parsed.data
    let user: { userId: string, username: string }
    if (password === undefined) {
      if (!options.guests) throw new ChatError('E_FORBIDDEN', 'guest sign-in is turned off; sign in with a password')
      const guest = await options.writer.run({ kind: 'guest', username })
      if (guest.refused) throw new ChatError('E_UNAUTHORIZED', BAD_CREDENTIALS)
      user = guest
    } else {
      const address = clientAddressOf(request.raw.socket)
      try {
        await options.throttle.check(username, address)
      } catch (error) {
        options.metrics?.signInFailures.inc({ reason: 'throttled' })
        throw error
      }
      const account = await options.reader.findAccount(username)
      const matches = await verifyPassword(password, account?.passwordHash ?? await dummyHash())
      if (account === undefined || !matches) {
        options.metrics?.signInFailures.inc({ reason: 'password' })
        await options.throttle.failed(username, address)
        throw new ChatError('E_UNAUTHORIZED', BAD_CREDENTIALS)
      }
      user = account
    }
    return await reply.status(201).send(sessionBody(options.tokens, user))
  })

  app.post('/api/sessions/renew', {
    config: { rateLimit: { max: options.perMinute, timeWindow: 60_000 } }
  }, async (request, reply) => {
    const identity = bearerIdentity(options.tokens, request)
    return await reply.status(201).send(sessionBody(options.tokens, identity))
  })

  app.delete('/api/sessions', {
    config: { rateLimit: { max: options.perMinute, timeWindow: 60_000 } }
  }, async (request, reply) => {
    const identity = bearerIdentity(options.tokens, request)
    // Answered once every worker has been told (the primary tells them before it answers).
    await options.writer.run({ kind: 'revoke', key: identity.revocationKey, expiresAtMs: identity.expiresAtMs })
    return await reply.status(204).send()
  })
}

/** The 201 body of a sign-in or a renewal: a fresh token for that identity. */
function sessionBody (tokens: Tokens, user: { userId: string, username: string }): { token: string, userId: string, username: string, expiresAt: string } {
  const session = tokens.issue(user.userId, user.username)
  return { token: session.token, userId: user.userId, username: user.username, expiresAt: session.expiresAt }
}
