import rateLimit from '@fastify/rate-limit'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from './config.js'
import { clusterRateLimitStore } from './http/cluster-rate-limit-store.js'
import { installErrorHandlers } from './http/errors.js'
import { messageRoutes } from './http/messages.js'
import { roomRoutes } from './http/rooms.js'
import { sessionRoutes } from './http/sessions.js'
import { webRoutes } from './http/web.js'
import type { MessageReader } from './store/message-reader.js'
import type { StoreClient } from './store/store-client.js'
import type { Tokens } from './tokens.js'

/**
 * The fastify application of a worker: REST routes and the web client, no listen() (the
 * primary hands it connections through sticky's worker side).
 */

export interface AppDeps {
  config: Config
  logger: Logger
  tokens: Tokens
  reader: MessageReader
  writer: StoreClient
  clustered?: boolean
}

const REST_BODY_LIMIT = 16 * 1024

export async function buildApp (deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: REST_BODY_LIMIT,
    return503OnClosing: true
  })
  installErrorHandlers(app)
  await app.register(rateLimit, {
    global: false,
    store: clusterRateLimitStore(deps.clustered !== false),
    skipOnError: true
  })
  if (deps.config.SESSIONS_ROUTE) {
    await app.register(sessionRoutes, { tokens: deps.tokens, writer: deps.writer, perMinute: deps.config.REST_SESSIONS_PER_MIN })
  }
  await app.register(messageRoutes, { tokens: deps.tokens, reader: deps.reader, perMinute: deps.config.REST_READS_PER_MIN })
  await app.register(roomRoutes, { tokens: deps.tokens, reader: deps.reader, perMinute: deps.config.REST_READS_PER_MIN })
  await app.register(webRoutes)
  return app
}
