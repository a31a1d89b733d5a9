import cluster, { type Worker } from 'node:cluster'
import { AggregatorRegistry, type Registry } from 'prom-client'

/**
 * Gathers every worker's metrics over IPC with prom-client's own request/response messages
 * (answered by the AggregatorRegistry each worker creates) and aggregates them, with the
 * primary's registry, via prom-client's AggregatorRegistry.aggregate. Unlike
 * AggregatorRegistry.clusterMetrics(), a worker that does not answer in time (one that just
 * died) leaves a partial answer instead of failing the scrape, and the primary's own metrics are
 * included.
 */

const REQUEST = 'prom-client:getMetricsReq'
const RESPONSE = 'prom-client:getMetricsRes'

type MetricJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>

interface Pending {
  waiting: Set<number>
  responses: MetricJson[]
  done: () => void
}

export class ClusterMetrics {
  readonly #pending = new Map<number, Pending>()
  #nextId = 1_000_000_000 // far from prom-client's own counter

  constructor () {
    cluster.on('message', (worker, message: { type?: string, requestId?: number, metrics?: MetricJson[] }) => {
      if (message?.type !== RESPONSE || message.requestId === undefined) return
      const pending = this.#pending.get(message.requestId)
      if (pending === undefined) return
      for (const metrics of message.metrics ?? []) pending.responses.push(metrics)
      pending.waiting.delete(worker.id)
      if (pending.waiting.size === 0) pending.done()
    })
  }

  /** Prometheus text for every worker plus the primary's registry. */
  async scrape (workers: Worker[], primary: Registry, timeoutMs: number): Promise<{ text: string, contentType: string }> {
    const requestId = this.#nextId++
    const pending: Pending = { waiting: new Set(workers.map((worker) => worker.id)), responses: [], done: () => {} }
    const finished = new Promise<void>((resolve) => {
      pending.done = resolve
      setTimeout(resolve, timeoutMs).unref()
    })
    this.#pending.set(requestId, pending)
    for (const worker of workers) worker.send({ type: REQUEST, requestId }, undefined, () => {})
    if (workers.length === 0) pending.done()
    await finished
    this.#pending.delete(requestId)
    const registry = AggregatorRegistry.aggregate([...pending.responses, await primary.getMetricsAsJSON()])
    const missing = pending.waiting.size
    const text = await registry.metrics()
    return {
      text: `${text}# HELP chat_metrics_workers_missing Workers that did not answer this scrape in time\n# TYPE chat_metrics_workers_missing gauge\nchat_metrics_workers_missing ${missing}\n`,
      contentType: registry.contentType
    }
  }
}
