import cluster, { type Worker } from 'node:cluster'
import type { AddressInfo } from 'node:net'
import { setupPrimary as setupAdapterPrimary } from '@socket.io/cluster-adapter'
import { RateLimiterClusterMaster } from 'rate-limiter-flexible'
import type { Logger } from 'pino'
import { createBalancer } from './cluster/balancer.js'
import { proxyTrust } from './cluster/client-address.js'
import { ConnectionQuotas } from './cluster/connection-quotas.js'
import type { PrimaryToWorker, WorkerToPrimary, WriteAnswer } from './cluster/messages.js'
import { Supervisor } from './cluster/supervisor.js'
import { workerOwnsStore, type Config } from './config.js'
import { createLogger } from './logger.js'
import { ClusterMetrics } from './ops/cluster-metrics.js'
import { createMultiVmMetrics, createPrimaryMetrics, type PrimaryMetrics } from './ops/metrics.js'
import { createOpsServers, publicOpsPaths } from './ops/ops-server.js'
import { randomUUID } from 'node:crypto'
import { MessagePublisher } from './crossvm/message-publisher.js'
import { StoreProbe } from './ops/store-probe.js'
import { describeUrl, observeCommits, openWriter, prepareStore, type OpenedWriter } from './store/backend.js'

/**
 * The primary process: prepares the store (migrations) before anything forks and is its one
 * writer when there are several workers, forks the Socket.IO workers (WORKERS), relays the
 * cluster adapter and rate-limit counters, balances connections with sticky sessions, counts
 * connections per user and per address, answers health (public port) and metrics (operations
 * listener), and coordinates shutdown (SIGTERM/SIGINT) and rolling restarts (SIGUSR2).
 */

const WORKER_START_TIMEOUT_MS = 30_000

export async function runPrimary (config: Config): Promise<void> {
  const logger = createLogger(config, { role: 'primary' })
  try {
    logger.info(await prepareStore(config), 'store ready')
  } catch (error) {
    const where = config.STORE === 'postgres' ? { database: describeUrl(config.DATABASE_URL as string) } : { dataDir: config.DATA_DIR_ABSOLUTE }
    logger.fatal({ err: error, ...where }, `cannot open the store; refusing to start: ${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
  }
  // This VM's id among several (REDIS_URL): workers inherit it and skip their own VM's publications.
  const vmId = process.env.CHAT_VM_ID ?? randomUUID()
  process.env.CHAT_VM_ID = vmId

  cluster.setupPrimary({
    serialization: 'advanced',
    // The leak check forces GCs in workers; never on unless DEBUG_GC_ROUTE asks for it.
    ...(config.DEBUG_GC_ROUTE ? { execArgv: [...process.execArgv, '--expose-gc'] } : {})
  })
  setupAdapterPrimary()
  void new RateLimiterClusterMaster()

  const metrics = createPrimaryMetrics()
  metrics.workersWanted.set(config.WORKERS)
  // With one worker that commits its own writes (STORE_WRITER=auto), the primary holds no store.
  const store = workerOwnsStore(config) ? undefined : await createStore(config, vmId, metrics, logger)
  const storeProbe = config.STORE === 'postgres' ? new StoreProbe(config.DATABASE_URL as string, config.PG_CONNECT_TIMEOUT_MS, logger) : undefined
  if (storeProbe !== undefined) createMultiVmMetrics([metrics.registry], 'primary').watchStore(() => storeProbe.available)
  serveConnectionQuotas(config)
  const supervisor = new Supervisor({
    workers: config.WORKERS,
    respawnBackoffMaxMs: config.RESPAWN_BACKOFF_MAX_MS,
    startTimeoutMs: WORKER_START_TIMEOUT_MS,
    logger,
    metrics
  })
  let draining = false
  const opsServers = createOpsServers({ supervisor, clusterMetrics: new ClusterMetrics(), metrics, logger, isDraining: () => draining, debugMemory: config.DEBUG_GC_ROUTE, storeAvailable: () => storeProbe?.available ?? true })
  const balancer = createBalancer({
    supervisor,
    opsServer: opsServers.public,
    opsPaths: publicOpsPaths(),
    headTimeoutMs: config.HANDSHAKE_TIMEOUT_MS,
    maxHeadsPerAddress: config.MAX_HEADS_PER_IP,
    trustedProxy: proxyTrust(config.TRUST_PROXY),
    metrics
  })

  let shuttingDown: Promise<void> | undefined
  const shutdown = (signal: string): Promise<void> => {
    shuttingDown ??= (async () => {
      draining = true
      logger.info({ signal, deadlineMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutting down: draining workers')
      const hardStop = setTimeout(() => {
        logger.error('shutdown deadline passed; exiting')
        process.exit(1)
      }, config.SHUTDOWN_TIMEOUT_MS + 2000).unref()
      // Keep listening while draining: /readyz answers 503 and every other request 503 with
      // Retry-After, so load balancers and clients see the drain instead of a refused connection.
      await supervisor.stop(Math.max(500, config.SHUTDOWN_TIMEOUT_MS - 1000))
      balancer.close()
      opsServers.operations.close()
      // Every worker is gone: commit what is left, checkpoint the WAL, close the store.
      await store?.close().catch((error: unknown) => logger.error({ err: error }, 'store did not close cleanly (its WAL keeps every commit)'))
      await storeProbe?.close()
      clearTimeout(hardStop)
      logger.info('stopped')
      process.exit(0)
    })()
    return shuttingDown
  }
  process.on('SIGTERM', () => { void shutdown('SIGTERM') })
  process.on('SIGINT', () => { void shutdown('SIGINT') })

  let restarting = false
  process.on('SIGUSR2', () => {
    if (restarting || draining) return
    restarting = true
    logger.info('rolling restart: replacing workers one at a time')
    supervisor.rollingRestart(config.SHUTDOWN_TIMEOUT_MS).then(
      () => logger.info('rolling restart done'),
      (error: unknown) => logger.error({ err: error }, 'rolling restart failed')
    ).finally(() => { restarting = false })
  })

  try {
    await supervisor.start()
  } catch (error) {
    logger.fatal({ err: error }, 'workers failed to start; refusing to start')
    await supervisor.stop(2000)
    await store?.close()
    process.exit(1)
  }

  // The operations listener first, so its address is known when the service says it listens.
  await new Promise<void>((resolve, reject) => {
    opsServers.operations.once('error', reject)
    opsServers.operations.listen({ port: config.OPS_PORT, host: config.OPS_HOST }, () => resolve())
  }).catch((error: unknown) => {
    logger.fatal({ err: error, opsPort: config.OPS_PORT, opsHost: config.OPS_HOST }, 'cannot listen on the operations port')
    process.exit(1)
  })
  const opsAddress = opsServers.operations.address() as AddressInfo
  logger.info({ opsHost: opsAddress.address, opsPort: opsAddress.port }, 'operations listening')

  // Listen only once every worker serves: nothing is handed to a worker that cannot answer.
  await new Promise<void>((resolve, reject) => {
    balancer.once('error', reject)
    balancer.listen({ port: config.PORT, host: config.HOST, backlog: 4096 }, () => resolve())
  }).catch((error: unknown) => {
    logger.fatal({ err: error, port: config.PORT, host: config.HOST }, 'cannot listen')
    process.exit(1)
  })
  const address = balancer.address() as AddressInfo
  logger.info({ host: address.address, port: address.port, opsHost: opsAddress.address, opsPort: opsAddress.port, workers: config.WORKERS }, 'listening')
  process.send?.('ready') // pm2 wait_ready
}

/**
 * The cluster's one store writer, fed by the workers over IPC: `chat:write` requests in; after
 * each transaction one `chat:commit` to every worker, with the answers to its own requests and
 * the transaction's new messages in seq order.
 */
async function createStore (config: Config, vmId: string, metrics: PrimaryMetrics, logger: Logger): Promise<OpenedWriter & { close: () => Promise<void> }> {
  // With several VMs, each transaction's new messages also go to the other VMs.
  const publisher = config.REDIS_URL === undefined ? undefined : new MessagePublisher({ url: config.REDIS_URL, vmId, logger })
  const writer = await openWriter(config, {
    // One message per worker per transaction: its answers and the transaction's new messages.
    deliver: (answers, messages) => {
      const messagesJson = messages.length > 0 ? JSON.stringify(messages) : undefined
      publisher?.publish(messages, messagesJson)
      for (const worker of Object.values(cluster.workers ?? {})) {
        if (worker === undefined) continue
        const own = answers.filter((answer) => answer.requester === worker.id).map(({ requestId, results, error }): WriteAnswer => ({ requestId, ...(results === undefined ? {} : { results }), ...(error === undefined ? {} : { error }) }))
        if (own.length === 0 && messagesJson === undefined) continue
        send(worker, { type: 'chat:commit', answers: own, ...(messagesJson === undefined ? {} : { messagesJson }) })
      }
    },
    onRevoked: (tokens) => {
      for (const worker of Object.values(cluster.workers ?? {})) send(worker, { type: 'chat:revoked', tokens })
    },
    onCommit: observeCommits(metrics, logger)
  }, logger)
  cluster.on('message', (worker, message: WorkerToPrimary) => {
    if (message?.type === 'chat:write') writer.submit(worker.id, message.requestId, message.ops)
  })
  return {
    submit: (requester, requestId, ops) => writer.submit(requester, requestId, ops),
    available: () => writer.available(),
    close: async () => {
      await writer.close()
      await publisher?.close()
    }
  }
}

/** Sends a control message to a worker still connected (a dying one just misses it). */
function send (worker: Worker | undefined, message: PrimaryToWorker): void {
  if (worker?.isConnected() === true) worker.send(message, undefined, () => {})
}

/** Answers the workers' `chat:quota-acquire` and hears their releases (see connection-quotas.ts). */
function serveConnectionQuotas (config: Config): void {
  const quotas = new ConnectionQuotas({ maxPerUser: config.MAX_SOCKETS_PER_USER, maxPerAddress: config.MAX_CONNECTIONS_PER_IP })
  cluster.on('message', (worker, message: WorkerToPrimary) => {
    if (message?.type === 'chat:quota-acquire') {
      const refused = quotas.acquire(worker.id, message.connectionId, message.userId, message.address)
      send(worker, refused === undefined ? { type: 'chat:quota-answer', requestId: message.requestId } : { type: 'chat:quota-answer', requestId: message.requestId, refused })
    } else if (message?.type === 'chat:quota-release') {
      quotas.release(worker.id, message.connectionId)
    }
  })
  cluster.on('exit', (worker) => quotas.releaseWorker(worker.id))
}
