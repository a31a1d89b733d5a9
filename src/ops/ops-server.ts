import { createServer, type Server } from 'node:http'
import type { Logger } from 'pino'
import type { Supervisor } from '../cluster/supervisor.js'
import type { ClusterMetrics } from './cluster-metrics.js'
import type { PrimaryMetrics } from './metrics.js'

/**
 * The primary's own HTTP answers: /healthz (the process lives), /readyz (every worker serves,
 * each with its store open, and the service is not draining) and /metrics (all workers
 * aggregated). It never listens: the balancer passes it the connections for these paths.
 */

export interface OpsServerOptions {
  supervisor: Supervisor
  clusterMetrics: ClusterMetrics
  metrics: PrimaryMetrics
  logger: Logger
  isDraining: () => boolean
  /** Serve GET /debug/memory (per-worker memory, `?gc=1` forces a GC first). Off in production. */
  debugMemory: boolean
}

/** Paths the primary answers itself (the balancer routes them here). */
export function opsPaths (debugMemory: boolean): ReadonlySet<string> {
  return new Set(['/healthz', '/readyz', '/metrics', ...(debugMemory ? ['/debug/memory'] : [])])
}

const SCRAPE_TIMEOUT_MS = 2000

export function createOpsServer (options: OpsServerOptions): Server {
  const server = createServer((request, response) => {
    response.shouldKeepAlive = false
    const path = (request.url ?? '').split('?')[0]
    const json = (status: number, body: unknown): void => {
      response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      response.end(JSON.stringify(body))
    }
    if (path === '/healthz') return json(200, { status: 'ok' })
    if (path === '/readyz') {
      const { supervisor } = options
      const ready = supervisor.allReady && !options.isDraining()
      return json(ready ? 200 : 503, { status: ready ? 'ready' : options.isDraining() ? 'draining' : 'starting', workersReady: supervisor.readyCount })
    }
    if (path === '/metrics') {
      options.clusterMetrics.scrape(options.supervisor.connectedWorkers(), options.metrics.registry, SCRAPE_TIMEOUT_MS).then(({ text, contentType }) => {
        response.writeHead(200, { 'content-type': contentType })
        response.end(text)
      }, (error: unknown) => {
        options.logger.error({ err: error }, 'metrics scrape failed')
        json(500, { error: { code: 'E_INTERNAL', message: 'metrics unavailable' } })
      })
      return
    }
    if (path === '/debug/memory' && options.debugMemory) {
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
