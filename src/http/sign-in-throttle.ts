import { RateLimiterCluster, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible'
import { ChatError } from '../errors.js'

/**
 * Failed password sign-ins, counted per account name (any case, whatever the address) and per
 * client address, in the primary for every worker. Past either limit every password sign-in for
 * that name or from that address is answered 429 E_RATE_LIMITED with retryAfterMs until the
 * window ends, right password or not: guessing costs the guesser a window per few tries. Names
 * that are not accounts are counted the same, so a 429 tells nothing about which names exist.
 */

export interface SignInThrottleOptions {
  failuresPerAccount: number
  failuresPerAddress: number
  windowSeconds: number
  clustered: boolean
}

type Limiter = RateLimiterCluster | RateLimiterMemory

export interface SignInThrottle {
  /** Throws E_RATE_LIMITED when the name or the address has used up its failures. */
  check: (username: string, address: string) => Promise<void>
  /** Counts one failed sign-in against both. */
  failed: (username: string, address: string) => Promise<void>
}

export function createSignInThrottle (options: SignInThrottleOptions): SignInThrottle {
  const limiter = (keyPrefix: string, points: number): Limiter => {
    const settings = { keyPrefix, points, duration: options.windowSeconds }
    return options.clustered ? new RateLimiterCluster({ ...settings, timeoutMs: 2000 }) : new RateLimiterMemory(settings)
  }
  const perAccount = limiter('sign-in-account', options.failuresPerAccount)
  const perAddress = limiter('sign-in-address', options.failuresPerAddress)
  const accountKey = (username: string): string => username.toLowerCase()

  /** Milliseconds until the key may try again, or undefined while it has failures left. */
  const blockedFor = async (target: Limiter, key: string, points: number): Promise<number | undefined> => {
    try {
      const state = await target.get(key)
      return state !== null && state.consumedPoints >= points ? Math.max(1, state.msBeforeNext) : undefined
    } catch {
      return undefined // the primary did not answer: the password check still stands
    }
  }
  const consume = async (target: Limiter, key: string): Promise<void> => {
    try {
      await target.consume(key)
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error
    }
  }

  return {
    async check (username, address) {
      const [account, fromAddress] = await Promise.all([
        blockedFor(perAccount, accountKey(username), options.failuresPerAccount),
        blockedFor(perAddress, address, options.failuresPerAddress)
      ])
      const retryAfterMs = Math.max(account ?? 0, fromAddress ?? 0)
      if (retryAfterMs > 0) throw new ChatError('E_RATE_LIMITED', 'too many failed sign-ins, try again later', { retryAfterMs })
    },
    async failed (username, address) {
      await Promise.all([consume(perAccount, accountKey(username)), consume(perAddress, address)]).catch(() => {})
    }
  }
}
