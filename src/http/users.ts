import type { FastifyInstance } from 'fastify'
import { ChatError } from '../errors.js'
import { hashPassword } from '../passwords.js'
import { describeIssue, userRequestBody } from '../protocol/schemas.js'
import type { StoreClient } from '../store/store-client.js'
import { requireJson } from './json-body.js'

/**
 * `POST /api/users` `{ username, password }`: registers an account (201 `{ userId, username }`);
 * a name an account already has, in any case, is 409 E_CONFLICT. Guests who used the name keep
 * their own userIds; from now on the name signs in only with the password.
 */

export interface UserRouteOptions {
  writer: StoreClient
  perMinute: number
}

export async function userRoutes (app: FastifyInstance, options: UserRouteOptions): Promise<void> {
  app.post('/api/users', {
    config: { rateLimit: { max: options.perMinute, timeWindow: 60_000 } },
    onRequest: requireJson
  }, async (request, reply) => {
    const parsed = userRequestBody.safeParse(request.body)
    if (!parsed.success) throw new ChatError('E_VALIDATION', describeIssue(parsed.error))
    const { username, password } = parsed.data
    const passwordHash = await hashPassword(password)
    const result = await options.writer.run({ kind: 'register', username, passwordHash })
    if (result.conflict) throw new ChatError('E_CONFLICT', `username ${username} is taken`)
    return await reply.status(201).send({ userId: result.userId, username: result.username })
  })
}
