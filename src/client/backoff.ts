/**
 * Jittered exponential backoff, the same curve socket.io-client's Manager uses for its own
 * reconnection (base · 2^attempt, capped, spread by ± randomization), for the waits the Manager
 * does not do itself: a handshake refused by the server, a send to retry.
 */

export interface BackoffOptions {
  baseDelayMs: number
  maxDelayMs: number
  /** 0 for none, 0.5 spreads each delay over ±50 %. */
  randomizationFactor: number
}

/** The delay before retry number `attempt` (1 is the first retry). */
export function backoffDelayMs (attempt: number, options: BackoffOptions): number {
  const exponential = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.max(0, attempt - 1))
  const spread = exponential * options.randomizationFactor * (Math.random() * 2 - 1)
  return Math.max(0, Math.round(Math.min(options.maxDelayMs, exponential + spread)))
}

/** Resolves true after `ms`, or false at once when `signal` aborts first. */
export async function sleep (ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false
  return await new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      resolve(false)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve(true)
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
