import type { IncomingMessage, Server, ServerResponse } from 'node:http'

/**
 * A deadline for receiving each whole request (head and body), on the worker's HTTP server.
 * Node's own `requestTimeout` is checked by a timer the server starts when it listens, and a
 * worker's server never listens (the primary hands it connections), so it would never fire. A
 * request whose body has not fully arrived in time is answered 408 and its connection closed.
 * WebSocket upgrades are not requests here; the primary already bounds their heads.
 */
export function installRequestDeadline (server: Server, timeoutMs: number): void {
  server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
    if (request.complete) return
    const timer = setTimeout(() => {
      if (request.complete) return
      if (!response.headersSent) {
        const body = '{"error":{"code":"E_VALIDATION","message":"request not received in time"}}'
        response.writeHead(408, { connection: 'close', 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
        response.end(body)
      }
      // Whatever the handler still waits for will not come: free the connection.
      setTimeout(() => request.socket.destroy(), 100).unref()
    }, timeoutMs)
    timer.unref()
    const clear = (): void => clearTimeout(timer)
    request.once('end', clear)
    request.once('close', clear)
  })
}
