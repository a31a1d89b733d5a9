/**
 * The revoked tokens one worker knows of (`DELETE /api/sessions`, on any worker): loaded from the
 * store at start, then kept current by the primary's `chat:revoked` broadcasts. An entry is
 * dropped once its token has expired, since the expiry check refuses the token from then on.
 */

export interface RevokedToken {
  /** Identity.revocationKey: `jti:<jti>` or `sha256:<hash of the token>`. */
  key: string
  /** The token's own expiry, epoch milliseconds. */
  expiresAtMs: number
}

export class RevocationList {
  readonly #expiries = new Map<string, number>()

  has (key: string): boolean {
    return this.#expiries.has(key)
  }

  get size (): number {
    return this.#expiries.size
  }

  add (entries: readonly RevokedToken[]): void {
    for (const entry of entries) this.#expiries.set(entry.key, entry.expiresAtMs)
  }

  /** Forgets tokens that expired (a small grace covers clock differences between processes). */
  prune (nowMs = Date.now(), graceMs = 60_000): void {
    for (const [key, expiresAtMs] of this.#expiries) if (expiresAtMs + graceMs < nowMs) this.#expiries.delete(key)
  }
}
