import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { EventLoopDelay } from './event-loop.js'

/**
 * Prometheus metrics. Each worker process fills its own registry; the primary gathers them over
 * IPC (prom-client's cluster protocol) and aggregates: counters and histograms sum across workers,
 * per-process gauges carry a `worker` label so they stay apart.
 */

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>

/** Creates the worker's metrics in the global registry and answers the primary's metric requests. */
export function createWorkerMetrics (workerId: string) {
  const registry = new Registry()
  AggregatorRegistry.setRegistries([registry])
  // Constructing an AggregatorRegistry in a worker installs prom-client's IPC responder.
  void new AggregatorRegistry()
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 })
  const registers = [registry]
  const workerLabel = { worker: workerId }

  const eventLoop = new EventLoopDelay()
  let poolQueueSize = (): number => 0

  const connections = new Gauge({ name: 'chat_connections', help: 'Open Socket.IO connections per worker', labelNames: ['worker'], registers })
  const eventLoopDelay = new Gauge({
    name: 'chat_event_loop_delay_seconds',
    help: 'Event-loop delay per worker since the last scrape',
    labelNames: ['worker', 'quantile'],
    registers,
    collect () {
      this.set({ ...workerLabel, quantile: '0.5' }, eventLoop.percentileMs(50) / 1000)
      this.set({ ...workerLabel, quantile: '0.99' }, eventLoop.percentileMs(99) / 1000)
      this.set({ ...workerLabel, quantile: '1' }, eventLoop.maxMs() / 1000)
      eventLoop.reset()
    }
  })
  const memory = new Gauge({
    name: 'chat_worker_memory_bytes',
    help: 'Memory of each worker process',
    labelNames: ['worker', 'kind'],
    registers,
    collect () {
      const usage = process.memoryUsage()
      for (const kind of ['rss', 'heapUsed', 'heapTotal', 'external', 'arrayBuffers'] as const) {
        this.set({ ...workerLabel, kind }, usage[kind])
      }
    }
  })

  return {
    registry,
    workerLabel,
    eventLoop,
    connections,
    eventLoopDelay,
    memory,
    connectionsAccepted: new Counter({ name: 'chat_connections_accepted_total', help: 'Socket.IO connections accepted', registers }),
    connectionsRejected: new Counter({ name: 'chat_connections_rejected_total', help: 'Handshakes refused, by reason', labelNames: ['reason'], registers }),
    disconnects: new Counter({ name: 'chat_disconnects_total', help: 'Socket disconnections, by reason', labelNames: ['reason'], registers }),
    messagesIn: new Counter({ name: 'chat_messages_stored_total', help: 'New messages committed to the store', registers }),
    messagesDuplicate: new Counter({ name: 'chat_messages_duplicate_total', help: 'Resends answered from the store without storing again', registers }),
    messagesOut: new Counter({ name: 'chat_messages_delivered_total', help: 'Message deliveries to local sockets', registers }),
    messagesOutDirect: new Counter({ name: 'chat_messages_delivered_direct_total', help: 'Of those, deliveries written straight to the TCP socket (the rest went through Engine.IO behind what it had queued)', registers }),
    acks: new Counter({ name: 'chat_acks_total', help: 'Acks sent, by event and code (ok or an error code)', labelNames: ['event', 'code'], registers }),
    feedGapFills: new Counter({ name: 'chat_feed_gap_fills_total', help: 'Messages a worker read from the store to fill a seq gap before delivery', registers }),
    poolTasks: new Counter({ name: 'chat_pool_tasks_total', help: 'Text and serialization tasks, by task and where they ran', labelNames: ['task', 'mode'], registers }),
    poolRun: new Histogram({
      name: 'chat_pool_task_seconds',
      help: 'Time from submit to result of pooled tasks',
      labelNames: ['task'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers
    }),
    poolQueue: new Gauge({
      name: 'chat_pool_queue_size',
      help: 'Tasks waiting for a pool thread per worker',
      labelNames: ['worker'],
      registers,
      collect () { this.set(workerLabel, poolQueueSize()) }
    }),
    /** Where chat_pool_queue_size reads from (the pool is built after the metrics). */
    measurePoolQueue (source: () => number): void { poolQueueSize = source },
    storeRead: new Histogram({
      name: 'chat_store_read_seconds',
      help: 'Page reads on the event loop (joins, history, gap fills, REST pages): the only store work that holds it',
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05],
      registers
    }),
    storeReadMax: new Gauge({ name: 'chat_store_read_max_seconds', help: 'Longest single page read on the event loop since start, per worker', labelNames: ['worker'], aggregator: 'max', registers }),
    rateLimited: new Counter({ name: 'chat_rate_limited_total', help: 'Events refused E_RATE_LIMITED, by kind', labelNames: ['kind'], registers }),
    shed: new Counter({ name: 'chat_shed_total', help: 'Work shed under overload, by what and why (event-loop delay, store backlog, send wait)', labelNames: ['what', 'reason'], registers }),
    slowConsumers: new Counter({ name: 'chat_slow_consumer_disconnects_total', help: 'Sockets disconnected because their unread backlog passed the bound', registers }),
    tokenExpiries: new Counter({ name: 'chat_token_expiry_disconnects_total', help: 'Sockets disconnected because their token expired', registers }),
    tokenRevocations: new Counter({ name: 'chat_token_revocation_disconnects_total', help: 'Sockets disconnected because their token was revoked', registers }),
    signInFailures: new Counter({ name: 'chat_sign_in_failures_total', help: 'Password sign-ins refused, by reason (password: wrong password or no such account; throttled)', labelNames: ['reason'], registers })
  }
}

export type PrimaryMetrics = ReturnType<typeof createPrimaryMetrics>

/** Metrics the primary owns (added to the workers' when /metrics is scraped). */
export function createPrimaryMetrics () {
  const registry = new Registry()
  const registers = [registry]
  return {
    registry,
    workersReady: new Gauge({ name: 'chat_workers_ready', help: 'Socket.IO workers ready to serve', registers }),
    workersWanted: new Gauge({ name: 'chat_workers_configured', help: 'Socket.IO workers configured (WORKERS)', registers }),
    respawns: new Counter({ name: 'chat_worker_respawns_total', help: 'Workers restarted after exiting unexpectedly', labelNames: ['reason'], registers }),
    rollingRestarts: new Counter({ name: 'chat_rolling_restarts_total', help: 'Rolling restarts completed', registers }),
    handoffs: new Counter({ name: 'chat_handoffs_total', help: 'Connections accepted by the primary, by where they went', labelNames: ['route'], registers }),
    overloadRejects: new Counter({ name: 'chat_primary_rejections_total', help: 'Connections the primary refused or cut itself, by reason (no_worker, stopping: 503; heads_per_address: 429; head_timeout: the head did not arrive in time)', labelNames: ['reason'], registers }),
    ...createStoreMetrics(registers)
  }
}

export type StoreMetrics = ReturnType<typeof createStoreMetrics>

/**
 * Metrics of the store writer, in whichever process owns it (the primary, or the only worker
 * under STORE_WRITER=auto with WORKERS=1). The primary always registers them; a scrape sums the
 * primary's and the workers' histograms, so the names stay the same wherever the writer runs.
 */
export function createStoreMetrics (registers: Registry[]) {
  return {
    storeCommit: new Histogram({
      name: 'chat_store_commit_seconds',
      help: 'Store transaction latency (group commit of every worker\'s writes) in the store thread, queueing included',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers
    }),
    storeBatch: new Histogram({ name: 'chat_store_batch_size', help: 'Operations per store transaction', buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000], registers }),
    storeFailures: new Counter({ name: 'chat_store_commit_failures_total', help: 'Store transactions that failed (their sends were answered E_INTERNAL)', registers })
  }
}

export type MultiVmMetrics = ReturnType<typeof createMultiVmMetrics>

/**
 * Metrics of a multi-VM deployment (STORE=postgres, REDIS_URL), in every process that holds a
 * connection: Redis connection state per role, what arrives from other VMs and how late, what
 * could not be published, the subscription's liveness, and the PostgreSQL pools.
 */
export function createMultiVmMetrics (registers: Registry[], label: string) {
  const pgPools: Array<() => { total: number, idle: number, waiting: number }> = []
  let storeAvailable: (() => boolean) | undefined
  return {
    /** Reports whether this process's store connection answers in `chat_store_available`. */
    watchStore (available: () => boolean): void {
      storeAvailable = available
    },
    /** Counts one PostgreSQL pool's connections in `chat_pg_pool_connections`. */
    watchPgPool (stats: () => { total: number, idle: number, waiting: number }): void {
      pgPools.push(stats)
    },
    redisConnected: new Gauge({ name: 'chat_redis_connected', help: 'Redis connections up (1) or down (0), by process and role', labelNames: ['process', 'role'], aggregator: 'first', registers }),
    crossVmReceived: new Counter({ name: 'chat_crossvm_messages_received_total', help: 'Committed messages received from other VMs through Redis', registers }),
    crossVmLag: new Histogram({
      name: 'chat_crossvm_lag_seconds',
      help: 'From commit on another VM to arrival here through Redis (the newest message of each publication)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers
    }),
    crossVmPublishFailures: new Counter({ name: 'chat_crossvm_publish_failures_total', help: 'Publications to other VMs that failed (Redis away); messages among them are caught up from the store', labelNames: ['what'], registers }),
    crossVmResubscribes: new Counter({ name: 'chat_crossvm_resubscribes_total', help: 'Redis subscriptions re-established, each followed by a catch-up from the store', registers }),
    crossVmProbeFailures: new Counter({ name: 'chat_crossvm_probe_failures_total', help: 'Liveness probes of the Redis subscription that never came back (the subscription was dropped and renewed)', registers }),
    pgPool: new Gauge({
      name: 'chat_pg_pool_connections',
      help: 'PostgreSQL pool connections by state (total, idle, waiting: requests queued for a connection), per process',
      labelNames: ['process', 'state'],
      aggregator: 'first',
      registers,
      collect () {
        let total = 0
        let idle = 0
        let waiting = 0
        for (const stats of pgPools) {
          const s = stats()
          total += s.total
          idle += s.idle
          waiting += s.waiting
        }
        if (pgPools.length === 0) return
        this.set({ process: label, state: 'total' }, total)
        this.set({ process: label, state: 'idle' }, idle)
        this.set({ process: label, state: 'waiting' }, waiting)
      }
    }),
    storeAvailable: new Gauge({
      name: 'chat_store_available',
      help: 'Whether the store answers (1) or not (0), by process (the VM\'s writer, and the primary\'s readiness probe)',
      labelNames: ['process'],
      aggregator: 'first',
      registers,
      collect () {
        if (storeAvailable !== undefined) this.set({ process: label }, storeAvailable() ? 1 : 0)
      }
    })
  }
}
