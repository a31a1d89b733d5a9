import type { FastifyInstance } from 'fastify'
import { ChatError } from '../errors.js'
import { describeIssue, sessionRequestBody } from '../protocol/schemas.js'
import type { StoreClient } from '../store/store-client.js'
import type { Tokens } from '../tokens.js'

/**
 * `POST /api/sessions`: a username in, a signed token out. The same username always maps to the
 * same userId (so two tabs are one user). A deployment that mints tokens elsewhere turns this
 * route off with SESSIONS_ROUTE=false.
 */

export interface SessionRouteOptions {
  tokens: Tokens
  writer: StoreClient
  perMinute: number
}

export async function sessionRoutes (app: FastifyInstance, options: SessionRouteOptions): Promise<void> {
  app.post('/api/sessions', {
    config: { rateLimit: { max: options.perMinute, timeWindow: 60_000 } },
    onRequest: async (request) => {
      const type = request.headers['content-type'] ?? ''
      if (!/^application\/json\s*(;|$)/i.test(type)) {
        throw new ChatError('E_VALIDATION', 'the body must be application/json', { statusCode: 415 })
      }
    }
  }, async (request, reply) => {
    const parsed = sessionRequestBody.safeParse(request.body)
    if (!parsed.success) throw new ChatError('E_VALIDATION', describeIssue(parsed.error))
    const user = await options.writer.run({ kind: 'user', username: parsed.data.username })
    const session = options.tokens.issue(user.userId, user.username)
    return reply.status(201).send({ token: session.token, userId: user.userId, username: user.username, expiresAt: session.expiresAt })
  })
}
