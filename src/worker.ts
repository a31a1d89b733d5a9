import cluster from 'node:cluster'
import { Socket } from 'node:net'
import { setupWorker } from '@socket.io/sticky'
import { buildApp } from './app.js'
import { rememberClientAddress } from './cluster/client-address.js'
import { isControlMessage, type MemoryReport, type PrimaryToWorker, type WorkerToPrimary, type WriteAnswer } from './cluster/messages.js'
import { workerOwnsStore, type Config } from './config.js'
import { createLogger } from './logger.js'
import { createStoreMetrics, createWorkerMetrics } from './ops/metrics.js'
import { ChatPool } from './pool/chat-pool.js'
import { ConnectionQuotaClient } from './realtime/connection-quota.js'
import { createRealtime, type Realtime } from './realtime/realtime.js'
import { databasePath } from './store/database.js'
import { MessageReader } from './store/message-reader.js'
import { StoreClient } from './store/store-client.js'
import { observeCommits, StoreService } from './store/store-service.js'
import type { CommittedMessage } from './store/write-ops.js'
import { RevocationList, type RevokedToken } from './revocations.js'
import { createTokens } from './tokens.js'

const REVOCATION_PRUNE_INTERVAL_MS = 60_000

/**
 * One Socket.IO worker process: its store read connection (on the event loop; writes go to the
 * primary's store thread, or to this worker's own when it is the only worker), its Piscina pool,
 * the fastify app and the Socket.IO server, fed connections by the primary. Drains on the
 * primary's word (or its own SIGTERM/SIGINT) and exits 0.
 */

export async function runWorker (config: Config): Promise<void> {
  const workerId = String(cluster.worker?.id ?? process.pid)
  const logger = createLogger(config, { role: 'worker', worker: workerId })
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception; worker exits and the primary respawns it')
    process.exit(1)
  })

  const metrics = createWorkerMetrics(workerId)
  const file = databasePath(config.DATA_DIR_ABSOLUTE)
  let longestReadMs = 0
  const reader = new MessageReader(file, (ms) => {
    metrics.storeRead.observe(ms / 1000)
    if (ms > longestReadMs) {
      longestReadMs = ms
      metrics.storeReadMax.set(metrics.workerLabel, ms / 1000)
    }
  })
  const sendToPrimary = (message: WorkerToPrimary): boolean => {
    if (process.connected !== true || process.send === undefined) return false
    process.send(message)
    return true
  }
  // What a finished transaction means here, whichever process committed it: acks for this
  // worker's writes, then the new messages for its sockets; revocations before either.
  let realtime: Realtime | undefined
  const committed = (answers: readonly WriteAnswer[], messages: CommittedMessage[]): void => {
    for (const answer of answers) writer.answered(answer.requestId, answer.results, answer.error)
    if (messages.length > 0) realtime?.onCommitted(messages)
  }
  const revoked = (tokens: RevokedToken[]): void => {
    revocations.add(tokens)
    realtime?.onRevoked(tokens.map((token) => token.key))
  }
  // The only worker commits its own writes on a store thread of its own: the ack and the
  // delivery of a message then cost no IPC at all. Otherwise the primary's thread commits.
  const localStore = workerOwnsStore(config)
    ? new StoreService({
      file,
      sync: config.STORE_SYNC,
      maxBatch: config.STORE_MAX_BATCH,
      deliver: committed,
      onRevoked: revoked,
      onCommit: observeCommits(createStoreMetrics([metrics.registry]), logger)
    })
    : undefined
  const writer = new StoreClient({
    send: (message) => {
      if (localStore === undefined) return sendToPrimary(message)
      if (message.type === 'chat:write') localStore.submit(0, message.requestId, message.ops)
      return true
    }
  })
  const pool = new ChatPool({
    threads: config.POOL_THREADS,
    maxQueue: config.POOL_MAX_QUEUE,
    termsFile: config.MODERATION_TERMS_FILE,
    policy: config.MODERATION_POLICY,
    inlineMaxTextUnits: config.POOL_INLINE_MAX_CODE_POINTS,
    inlineMaxPageUnits: config.POOL_INLINE_MAX_PAGE_BYTES,
    retryAfterMs: config.OVERLOAD_RETRY_AFTER_MS,
    metrics
  })
  metrics.measurePoolQueue(() => pool.queueSize)
  const revocations = new RevocationList()
  revocations.add(reader.revokedTokens(Date.now()))
  const pruneTimer = setInterval(() => revocations.prune(), REVOCATION_PRUNE_INTERVAL_MS).unref()
  const tokens = createTokens({
    secret: config.JWT_SECRET,
    ttlSeconds: config.TOKEN_TTL_S,
    keys: config.JWT_KEYS,
    signingKid: config.JWT_KID,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    revocations
  })
  const quotas = new ConnectionQuotaClient(sendToPrimary)
  // Before sticky's own listener injects the socket: remember the client address the primary resolved.
  process.prependListener('message', (message: unknown, handle: unknown) => {
    const sticky = message as { type?: unknown, clientAddress?: unknown }
    if (sticky?.type === 'sticky:connection' && handle instanceof Socket && typeof sticky.clientAddress === 'string') {
      rememberClientAddress(handle, sticky.clientAddress)
    }
  })
  const app = await buildApp({ config, logger, tokens, reader, writer, metrics })
  await app.ready()
  realtime = createRealtime(app.server, { config, logger, metrics, tokens, reader, writer, pool, quotas, workerId })
  setupWorker(realtime.io)

  let stopping: Promise<void> | undefined
  const stop = (reason: string, deadlineMs: number): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ reason, deadlineMs }, 'draining')
      try {
        clearInterval(pruneTimer)
        await realtime.drain(Math.max(100, deadlineMs - 500))
        await realtime.close()
        await app.close()
        await pool.close()
        await writer.close()
        await localStore?.close()
        reader.close()
        logger.info('drained; exiting')
        process.exit(0)
      } catch (error) {
        logger.error({ err: error }, 'drain failed')
        process.exit(1)
      }
    })()
    return stopping
  }

  const reportMemory = (requestId: number, gc: boolean): void => {
    const collect = (globalThis as { gc?: () => void }).gc
    if (gc && collect !== undefined) collect()
    const usage = process.memoryUsage()
    const report: MemoryReport = {
      worker: workerId,
      gcForced: gc && collect !== undefined,
      rss: usage.rss,
      heapUsed: usage.heapUsed,
      heapTotal: usage.heapTotal,
      external: usage.external,
      connections: realtime.io.engine.clientsCount
    }
    process.send?.({ type: 'chat:memory-report', requestId, report } satisfies WorkerToPrimary)
  }

  process.on('message', (message: unknown) => {
    if (!isControlMessage(message)) return
    const control = message as PrimaryToWorker
    if (control.type === 'chat:commit') {
      committed(control.answers, control.messagesJson === undefined ? [] : JSON.parse(control.messagesJson) as CommittedMessage[])
    } else if (control.type === 'chat:revoked') revoked(control.tokens)
    else if (control.type === 'chat:quota-answer') quotas.answered(control.requestId, control.refused)
    else if (control.type === 'chat:worker-exit') realtime.onWorkerExit(control.workerId)
    else if (control.type === 'chat:drain') void stop('primary asked', control.deadlineMs)
    else if (control.type === 'chat:memory') reportMemory(control.requestId, control.gc)
  })
  // A signal sent to the whole process group (Ctrl-C) reaches workers too: drain the same way.
  process.on('SIGTERM', () => { void stop('SIGTERM', config.SHUTDOWN_TIMEOUT_MS) })
  process.on('SIGINT', () => { void stop('SIGINT', config.SHUTDOWN_TIMEOUT_MS) })

  process.send?.({ type: 'chat:ready' })
  realtime.announce()
  logger.info({ poolThreads: config.POOL_THREADS, moderationTerms: pool.termCount }, 'worker serving')
}
