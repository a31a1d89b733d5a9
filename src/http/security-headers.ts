import type { IncomingMessage } from 'node:http'
import type { FastifyHelmetOptions } from '@fastify/helmet'

/**
 * @fastify/helmet's headers on every REST and page response. The page may run only its own
 * scripts and styles and connect only to its own origin: `connect-src 'self'` plus the same
 * host over ws:/wss: (older browsers do not count WebSocket URLs as 'self').
 */

/** A Host header safe to echo into a policy (no spaces, quotes or semicolons). */
const HOST = /^[A-Za-z0-9.-]{1,253}(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](?::\d{1,5})?$/

/** `'self'` plus the page's own host over ws: and wss: (just `'self'` for a Host that does not look like one). */
function connectSources (request: IncomingMessage): string {
  const host = request.headers.host ?? ''
  return HOST.test(host) ? `'self' ws://${host} wss://${host}` : "'self'"
}

export function securityHeaders (): FastifyHelmetOptions {
  return {
    global: true,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        connectSrc: [(request) => connectSources(request as IncomingMessage)],
        imgSrc: ["'self'", 'data:'],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"]
      }
    },
    // Plain-HTTP deployments are common behind a TLS proxy; HSTS is that proxy's to send.
    strictTransportSecurity: false,
    referrerPolicy: { policy: 'no-referrer' }
  }
}
