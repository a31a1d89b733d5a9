import { createServer, type Server } from 'node:http'
import type { Logger } from 'pino'
import type { Supervisor } from '../cluster/supervisor.js'
import type { ClusterMetrics } from './cluster-metrics.js'
import type { PrimaryMetrics } from './metrics.js'

/**
 * The primary's own HTTP answers. On the public port (the balancer passes it those connections,
 * it never listens there): /healthz (the process lives) and /readyz (every worker serves, each
 * with its store open, and the service is not draining). On the operations listener (OPS_HOST,
 * OPS_PORT, loopback by default) the same two plus /metrics (all workers aggregated; scrapes
 * that arrive while one is gathered share its answer) and, when DEBUG_GC_ROUTE is on (never in
 * production), /debug/memory.
 */

export interface OpsServerOptions {
  supervisor: Supervisor
  clusterMetrics: ClusterMetrics
  metrics: PrimaryMetrics
  logger: Logger
  isDraining: () => boolean
  /** Serve GET /debug/memory (per-worker memory, `?gc=1` forces a GC first) on the operations listener. */
  debugMemory: boolean
  /** Whether the store answers (PostgreSQL); /readyz is 503 while it does not. */
  storeAvailable?: () => boolean
}

/** Paths the primary answers itself on the public port (the balancer routes them here). */
export function publicOpsPaths (): ReadonlySet<string> {
  return new Set(['/healthz', '/readyz'])
}

const SCRAPE_TIMEOUT_MS = 2000

export interface OpsServers {
  /** Answers /healthz and /readyz for the balancer; never listens. */
  public: Server
  /** The operations listener's server (the caller listens on OPS_HOST:OPS_PORT). */
  operations: Server
}

export function createOpsServers (options: OpsServerOptions): OpsServers {
  let scrape: Promise<{ text: string, contentType: string }> | undefined
  // One fan-out to the workers at a time: scrapes arriving meanwhile get the same answer.
  const scrapeOnce = (): Promise<{ text: string, contentType: string }> => {
    scrape ??= options.clusterMetrics.scrape(options.supervisor.connectedWorkers(), options.metrics.registry, SCRAPE_TIMEOUT_MS)
      .finally(() => { scrape = undefined })
    return scrape
  }

  const serve = (operations: boolean): Server => {
    const server = createServer((request, response) => {
      response.shouldKeepAlive = false
      const path = (request.url ?? '').split('?')[0]
      const json = (status: number, body: unknown): void => {
        response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' })
        response.end(JSON.stringify(body))
      }
      if (request.method !== 'GET' && request.method !== 'HEAD') return json(405, { error: { code: 'E_VALIDATION', message: 'only GET' } })
      if (path === '/healthz') return json(200, { status: 'ok' })
      if (path === '/readyz') {
        const { supervisor } = options
        const storeUp = options.storeAvailable?.() ?? true
        const ready = supervisor.allReady && !options.isDraining() && storeUp
        const status = ready ? 'ready' : options.isDraining() ? 'draining' : !storeUp ? 'store-unavailable' : 'starting'
        return json(ready ? 200 : 503, { status, workersReady: supervisor.readyCount })
      }
      if (operations && path === '/metrics') {
        scrapeOnce().then(({ text, contentType }) => {
          response.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' })
          response.end(text)
        }, (error: unknown) => {
          options.logger.error({ err: error }, 'metrics scrape failed')
          json(500, { error: { code: 'E_INTERNAL', message: 'metrics unavailable' } })
        })
        return
      }
      if (operations && path === '/debug/memory' && options.debugMemory) {
        const gc = /[?&]gc=1(&|$)/.test(request.url ?? '')
        options.supervisor.memory(gc, SCRAPE_TIMEOUT_MS).then((workers) => json(200, { workers }), () => json(500, { error: { code: 'E_INTERNAL', message: 'memory report failed' } }))
        return
      }
      json(404, { error: { code: 'E_NOT_FOUND', message: 'not found' } })
    })
    server.headersTimeout = 10_000
    server.requestTimeout = 15_000
    return server
  }
  return { public: serve(false), operations: serve(true) }
}
