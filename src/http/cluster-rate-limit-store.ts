import { RateLimiterCluster, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible'

/**
 * A store for @fastify/rate-limit whose counters live in the primary (rate-limiter-flexible's
 * RateLimiterCluster), so a REST limit holds for the whole service, not per worker process
 * (the primary spreads requests over every worker). Outside a cluster it counts in memory.
 */

interface Counter { consume: (key: string, points?: number) => Promise<RateLimiterRes> }

type Callback = (error: Error | null, result?: { current: number, ttl: number }) => void

export function clusterRateLimitStore (clustered: boolean) {
  const counters = new Map<string, Counter>()

  function counter (prefix: string, timeWindowMs: number): Counter {
    const keyPrefix = `rest:${prefix}:${timeWindowMs}`
    let found = counters.get(keyPrefix)
    if (found === undefined) {
      // The store only counts; @fastify/rate-limit compares the count with its own max.
      const options = { keyPrefix, points: Number.MAX_SAFE_INTEGER, duration: Math.max(1, Math.ceil(timeWindowMs / 1000)) }
      found = clustered ? new RateLimiterCluster({ ...options, timeoutMs: 2000 }) : new RateLimiterMemory(options)
      counters.set(keyPrefix, found)
    }
    return found
  }

  class ClusterRateLimitStore {
    readonly #prefix: string

    constructor (_options: unknown, prefix = 'global') {
      this.#prefix = prefix
    }

    incr (key: string, callback: Callback, timeWindow: number): void {
      counter(this.#prefix, timeWindow).consume(key).then(
        (result) => callback(null, { current: result.consumedPoints, ttl: result.msBeforeNext }),
        (error: unknown) => callback(error instanceof RateLimiterRes ? new Error('rate limiter refused a counter') : error as Error)
      )
    }

    child (routeOptions: { method?: string | string[], url?: string }): ClusterRateLimitStore {
      return new ClusterRateLimitStore(undefined, `${String(routeOptions.method)}:${routeOptions.url ?? ''}`)
    }
  }
  return ClusterRateLimitStore
}
