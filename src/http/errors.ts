import type { FastifyError, FastifyInstance } from 'fastify'
import { ChatError, errorBody, type ErrorCode } from '../errors.js'

/**
 * REST errors in the protocol's shape, `{ error: { code, message } }`, with the code's HTTP
 * status. Bad input is always a 4xx; anything unexpected is logged once and answered 500.
 */

const FASTIFY_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'E_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'E_VALIDATION',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'E_VALIDATION',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'E_VALIDATION',
  FST_ERR_CTP_INVALID_JSON_BODY: 'E_VALIDATION',
  FST_ERR_VALIDATION: 'E_VALIDATION'
}

export function installErrorHandlers (app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | ChatError, request, reply) => {
    if (error instanceof ChatError) {
      if (error.retryAfterMs !== undefined) void reply.header('retry-after', Math.ceil(error.retryAfterMs / 1000))
      return reply.status(error.statusCode).send({ error: errorBody(error.code, error.message, error.retryAfterMs) })
    }
    const status = error.statusCode ?? 500
    if (status === 429) {
      return reply.status(429).send({ error: errorBody('E_RATE_LIMITED', 'too many requests', Number(reply.getHeader('retry-after') ?? 1) * 1000) })
    }
    if (status >= 400 && status < 500) {
      const code = FASTIFY_CODES[error.code] ?? 'E_VALIDATION'
      return reply.status(status).send({ error: errorBody(code, error.message) })
    }
    request.log.error({ err: error, url: request.url }, 'request failed')
    return reply.status(500).send({ error: errorBody('E_INTERNAL', 'internal error') })
  })
  app.setNotFoundHandler((request, reply) => {
    return reply.status(404).send({ error: errorBody('E_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`) })
  })
}
