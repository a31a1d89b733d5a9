import type { FastifyRequest } from 'fastify'
import { ChatError } from '../errors.js'
import type { Identity, Tokens } from '../tokens.js'

/** The caller of a REST route, from `Authorization: Bearer <token>`; E_UNAUTHORIZED otherwise. */
export function bearerIdentity (tokens: Tokens, request: FastifyRequest): Identity {
  const header = request.headers.authorization
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null
  if (match === null) throw new ChatError('E_UNAUTHORIZED', 'Authorization: Bearer <token> is required')
  return tokens.verify(match[1])
}
