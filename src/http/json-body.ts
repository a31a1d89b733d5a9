import type { FastifyRequest } from 'fastify'
import { ChatError } from '../errors.js'

/** An onRequest hook: the body must be `application/json` (415 E_VALIDATION otherwise). */
export async function requireJson (request: FastifyRequest): Promise<void> {
  const type = request.headers['content-type'] ?? ''
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new ChatError('E_VALIDATION', 'the body must be application/json', { statusCode: 415 })
  }
}
