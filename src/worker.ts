import cluster from 'node:cluster'
import { Socket } from 'node:net'
import { setupWorker } from '@socket.io/sticky'
import { buildApp } from './app.js'
import { rememberClientAddress } from './cluster/client-address.js'
import { isControlMessage, type MemoryReport, type PrimaryToWorker, type WorkerToPrimary, type WriteAnswer } from './cluster/messages.js'
import { workerOwnsStore, type Config } from './config.js'
import { createLogger } from './logger.js'
import { randomUUID } from 'node:crypto'
import { CrossVmBridge } from './crossvm/bridge.js'
import { MessagePublisher } from './crossvm/message-publisher.js'
import { closeRedis, connectRedis } from './crossvm/redis.js'
import { createMultiVmMetrics, createStoreMetrics, createWorkerMetrics } from './ops/metrics.js'
import { ChatPool } from './pool/chat-pool.js'
import { ConnectionQuotaClient } from './realtime/connection-quota.js'
import { createRealtime, type Realtime } from './realtime/realtime.js'
import { observeCommits, openReader, openWriter } from './store/backend.js'
import { StoreClient } from './store/store-client.js'
import type { CommittedMessage } from './store/write-ops.js'
import { RevocationList, type RevokedToken } from './revocations.js'
import { createTokens } from './tokens.js'

const REVOCATION_PRUNE_INTERVAL_MS = 60_000
/** With several VMs, how often a worker reads the store's revocations (other VMs' DELETEs). */
const REVOCATION_POLL_INTERVAL_MS = 1000

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
  // With REDIS_URL this worker is one of several VMs': its id (and its presence counts') must be
  // unique across them. The primary gives its workers the VM's id.
  const vmId = process.env.CHAT_VM_ID ?? randomUUID()
  const presenceId = config.REDIS_URL === undefined ? workerId : `${vmId}/${workerId}`
  const multiVm = config.REDIS_URL === undefined && config.STORE !== 'postgres' ? undefined : createMultiVmMetrics([metrics.registry], `worker-${workerId}`)
  let longestReadMs = 0
  const reader = await openReader(config, (ms) => {
    metrics.storeRead.observe(ms / 1000)
    if (ms > longestReadMs) {
      longestReadMs = ms
      metrics.storeReadMax.set(metrics.workerLabel, ms / 1000)
    }
  }, logger)
  if (reader.stats !== undefined) multiVm?.watchPgPool(reader.stats.bind(reader))
  const sendToPrimary = (message: WorkerToPrimary): boolean => {
    if (process.connected !== true || process.send === undefined) return false
    process.send(message)
    return true
  }
  // What a finished transaction means here, whichever process committed it: acks for this
  // worker's writes, then the new messages for its sockets; revocations before either.
  let realtime: Realtime | undefined
  let publisher: MessagePublisher | undefined
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
    ? await openWriter(config, {
      deliver: (answers, messages) => {
        committed(answers, messages)
        publisher?.publish(messages)
      },
      onRevoked: revoked,
      onCommit: observeCommits(createStoreMetrics([metrics.registry]), logger)
    }, logger)
    : undefined
  if (localStore !== undefined) multiVm?.watchStore(() => localStore.available())
  if (localStore !== undefined && config.REDIS_URL !== undefined) {
    publisher = new MessagePublisher({
      url: config.REDIS_URL,
      vmId,
      logger,
      onPublished: (ok) => { if (!ok) multiVm?.crossVmPublishFailures.inc({ what: 'messages' }) },
      onState: (up) => multiVm?.redisConnected.set({ process: `worker-${workerId}`, role: 'writer' }, up ? 1 : 0)
    })
  }
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
  revocations.add(await reader.revokedTokens(Date.now()))
  const pruneTimer = setInterval(() => revocations.prune(), REVOCATION_PRUNE_INTERVAL_MS).unref()
  // Other VMs' revocations: read from the shared store every second (well inside the 2 s the
  // protocol allows), whether Redis is up or not.
  const revocationPoll = config.STORE !== 'postgres'
    ? undefined
    : setInterval(() => {
      reader.revokedTokens(Date.now()).then((tokens) => {
        const fresh = tokens.filter((token) => !revocations.has(token.key))
        if (fresh.length > 0) revoked(fresh)
      }, (error: unknown) => logger.warn({ err: error }, 'could not read revocations from the store'))
    }, REVOCATION_POLL_INTERVAL_MS).unref()
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
  const limiterRedis = config.REDIS_URL === undefined
    ? undefined
    : connectRedis({ url: config.REDIS_URL, role: 'limiter', logger, onState: (up) => multiVm?.redisConnected.set({ process: `worker-${workerId}`, role: 'limiter' }, up ? 1 : 0) })
  realtime = createRealtime(app.server, { config, logger, metrics, tokens, reader, writer, pool, quotas, workerId: presenceId, ...(limiterRedis === undefined ? {} : { limiterRedis }) })
  const live = realtime
  const bridge = config.REDIS_URL === undefined
    ? undefined
    : new CrossVmBridge({
      url: config.REDIS_URL,
      vmId,
      worker: presenceId,
      logger,
      probeIntervalMs: config.REDIS_PROBE_INTERVAL_MS,
      handlers: live.crossVmHandlers,
      onState: (role, up) => multiVm?.redisConnected.set({ process: `worker-${workerId}`, role }, up ? 1 : 0),
      onReceived: (count, lagMs) => {
        multiVm?.crossVmReceived.inc(count)
        multiVm?.crossVmLag.observe(lagMs / 1000)
      },
      onProbeFailed: () => multiVm?.crossVmProbeFailures.inc(),
      onResubscribed: () => multiVm?.crossVmResubscribes.inc(),
      onPublishFailed: () => multiVm?.crossVmPublishFailures.inc({ what: 'events' })
    })
  if (bridge !== undefined) live.connectVms(bridge)
  setupWorker(realtime.io)

  let stopping: Promise<void> | undefined
  const stop = (reason: string, deadlineMs: number): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ reason, deadlineMs }, 'draining')
      try {
        clearInterval(pruneTimer)
        clearInterval(revocationPoll)
        await live.drain(Math.max(100, deadlineMs - 500))
        await live.close()
        await bridge?.close()
        if (limiterRedis !== undefined) await closeRedis(limiterRedis)
        await app.close()
        await pool.close()
        await writer.close()
        await localStore?.close()
        await publisher?.close()
        await reader.close()
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
    else if (control.type === 'chat:worker-exit') live.onWorkerExit(config.REDIS_URL === undefined ? control.workerId : `${vmId}/${control.workerId}`)
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
