import pg from 'pg'
import type { Logger } from 'pino'

/**
 * The primary's view of PostgreSQL for /readyz: one connection that asks `SELECT 1` every
 * second. While it fails the VM answers 503 on /readyz (a balancer sends new users to a VM that
 * can store their messages); sends meanwhile are answered E_OVERLOADED by the workers, never
 * acked falsely. The pool reconnects by itself when PostgreSQL is back.
 */

const PROBE_INTERVAL_MS = 1000

export class StoreProbe {
  readonly #pool: pg.Pool
  readonly #timer: NodeJS.Timeout
  readonly #logger: Logger
  #available = true
  #running = false

  constructor (url: string, connectTimeoutMs: number, logger: Logger, onChange?: (available: boolean) => void) {
    this.#logger = logger
    this.#pool = new pg.Pool({
      connectionString: url,
      max: 1,
      connectionTimeoutMillis: Math.min(connectTimeoutMs, PROBE_INTERVAL_MS * 2),
      idleTimeoutMillis: 0,
      application_name: 'chat-service',
      statement_timeout: PROBE_INTERVAL_MS * 2
    })
    // An idle connection killed under it (a restart, pg_terminate_backend): the next probe reconnects.
    this.#pool.on('error', () => {})
    this.#timer = setInterval(() => {
      if (this.#running) return
      this.#running = true
      this.#pool.query('SELECT 1').then(() => true, () => false).then((ok) => {
        this.#running = false
        if (ok === this.#available) return
        this.#available = ok
        this.#logger[ok ? 'info' : 'error'](ok ? 'PostgreSQL answers again' : 'PostgreSQL does not answer; /readyz answers 503 until it does')
        onChange?.(ok)
      })
    }, PROBE_INTERVAL_MS).unref()
  }

  get available (): boolean {
    return this.#available
  }

  async close (): Promise<void> {
    clearInterval(this.#timer)
    await this.#pool.end().catch(() => {})
  }
}
