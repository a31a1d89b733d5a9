import helmet from '@fastify/helmet'
import rateLimit from '@fastify/rate-limit'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { clientAddressOf } from './cluster/client-address.js'
import type { Config } from './config.js'
import { clusterRateLimitStore } from './http/cluster-rate-limit-store.js'
import { installErrorHandlers } from './http/errors.js'
import { messageRoutes } from './http/messages.js'
import { roomRoutes } from './http/rooms.js'
import { installRequestDeadline } from './http/request-deadline.js'
import { securityHeaders } from './http/security-headers.js'
import { sessionRoutes } from './http/sessions.js'
import { createSignInThrottle } from './http/sign-in-throttle.js'
import { userRoutes } from './http/users.js'
import { webRoutes } from './http/web.js'
import type { WorkerMetrics } from './ops/metrics.js'
import type { StoreReader } from './store/store.js'
import type { StoreClient } from './store/store-client.js'
import type { Tokens } from './tokens.js'

/**
 * The fastify application of a worker: REST routes and the web client, no listen() (the
 * primary hands it connections through sticky's worker side). Every per-address limit counts
 * the client's real address (the primary resolves it; TRUST_PROXY).
 */

export interface AppDeps {
  config: Config
  logger: Logger
  tokens: Tokens
  reader: StoreReader
  writer: StoreClient
  metrics?: WorkerMetrics
  clustered?: boolean
}

const REST_BODY_LIMIT = 16 * 1024

export async function buildApp (deps: AppDeps): Promise<FastifyInstance> {
  const { config } = deps
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: REST_BODY_LIMIT,
    return503OnClosing: true
  })
  // A request's body must arrive within REQUEST_TIMEOUT_MS (a slow body is answered 408 and closed).
  installRequestDeadline(app.server, config.REQUEST_TIMEOUT_MS)
  installErrorHandlers(app)
  await app.register(helmet, securityHeaders())
  await app.register(rateLimit, {
    global: false,
    store: clusterRateLimitStore(deps.clustered !== false),
    keyGenerator: (request) => clientAddressOf(request.raw.socket),
    skipOnError: true
  })
  if (config.SESSIONS_ROUTE) {
    const throttle = createSignInThrottle({
      failuresPerAccount: config.SIGNIN_FAILURES_PER_ACCOUNT,
      failuresPerAddress: config.SIGNIN_FAILURES_PER_IP,
      windowSeconds: config.SIGNIN_FAILURE_WINDOW_S,
      clustered: deps.clustered !== false
    })
    await app.register(sessionRoutes, {
      tokens: deps.tokens,
      reader: deps.reader,
      writer: deps.writer,
      throttle,
      guests: config.GUESTS,
      perMinute: config.REST_SESSIONS_PER_MIN,
      metrics: deps.metrics
    })
    await app.register(userRoutes, { writer: deps.writer, perMinute: config.REST_SESSIONS_PER_MIN })
  }
  await app.register(messageRoutes, { tokens: deps.tokens, reader: deps.reader, perMinute: config.REST_READS_PER_MIN })
  await app.register(roomRoutes, { tokens: deps.tokens, reader: deps.reader, perMinute: config.REST_READS_PER_MIN })
  await app.register(webRoutes)
  return app
}
