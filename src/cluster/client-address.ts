import { BlockList, isIP, type Socket } from 'node:net'
import type { TrustProxy } from '../config.js'

/**
 * The real client address of a connection. The balancer (primary) reads it once from the
 * request head: the TCP peer, or, when that peer is a trusted proxy (TRUST_PROXY), the nearest
 * untrusted address of X-Forwarded-For. It sends the address with the socket to the worker,
 * which keeps it beside the socket; every per-address limit (connection rate, connections,
 * sign-ins, REST) counts it. A client cannot choose it: untrusted peers' headers are ignored.
 */

/** `::ffff:10.0.0.1` is 10.0.0.1. */
export function normalizeAddress (address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address
}

/** A test of whether a peer is a trusted proxy, from TRUST_PROXY. */
export function proxyTrust (trust: TrustProxy): (address: string) => boolean {
  if (typeof trust === 'boolean') return () => trust
  const list = new BlockList()
  for (const entry of trust) {
    const [address = '', prefix] = entry.split('/')
    const normalized = normalizeAddress(address)
    const type = isIP(normalized) === 6 ? 'ipv6' : 'ipv4'
    if (prefix === undefined) list.addAddress(normalized, type)
    else list.addSubnet(normalized, Number(prefix), type)
  }
  return (address) => {
    const normalized = normalizeAddress(address)
    const family = isIP(normalized)
    return family !== 0 && list.check(normalized, family === 6 ? 'ipv6' : 'ipv4')
  }
}

/**
 * Walks from the peer back through X-Forwarded-For (rightmost first) while each hop is trusted;
 * the first untrusted address is the client. A malformed entry ends the walk at the hop that
 * sent it.
 */
export function resolveClientAddress (peer: string, forwardedFor: string | undefined, trusted: (address: string) => boolean): string {
  let client = normalizeAddress(peer)
  if (forwardedFor === undefined || !trusted(client)) return client
  const hops = forwardedFor.split(',').map((hop) => hop.trim()).reverse()
  for (const hop of hops) {
    const address = normalizeAddress(hop)
    if (isIP(address) === 0) return client
    client = address
    if (!trusted(client)) return client
  }
  return client
}

/** The value of one header in a raw request head (latin1), the last one when repeated, joined like Node does for X-Forwarded-For. */
export function headerValue (head: string, name: string): string | undefined {
  const values: string[] = []
  const wanted = `${name.toLowerCase()}:`
  for (const line of head.split('\r\n').slice(1)) {
    if (line.slice(0, wanted.length).toLowerCase() === wanted) values.push(line.slice(wanted.length).trim())
  }
  return values.length === 0 ? undefined : values.join(', ')
}

const addresses = new WeakMap<Socket, string>()

/** Worker side: the address the primary resolved for a socket it handed over. */
export function rememberClientAddress (socket: Socket, address: string): void {
  addresses.set(socket, address)
}

/** Worker side: the client address of a connection (its TCP peer when the primary did not say). */
export function clientAddressOf (socket: Socket | null | undefined): string {
  if (socket === null || socket === undefined) return 'unknown'
  return addresses.get(socket) ?? normalizeAddress(socket.remoteAddress ?? 'unknown')
}
