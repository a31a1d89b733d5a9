import { connect as tcpConnect, type Socket } from 'node:net'
import t from 'tap'
import { startCluster } from './helpers/cluster.js'

/**
 * Slow clients cannot hold connections: the request head has an absolute deadline
 * (HANDSHAKE_TIMEOUT_MS) however it trickles in, an address may have only MAX_HEADS_PER_IP heads
 * in progress, and a request body must arrive within REQUEST_TIMEOUT_MS. Everyone else is served
 * meanwhile.
 */

/** Resolves when the server closes the socket, with whatever it answered first. */
function closed (socket: Socket): Promise<string> {
  let answer = ''
  socket.on('data', (chunk: Buffer) => { answer += chunk.toString('latin1') })
  return new Promise((resolve) => socket.once('close', () => resolve(answer)))
}

async function open (port: number): Promise<Socket> {
  return await new Promise((resolve, reject) => {
    const socket = tcpConnect({ port, host: '127.0.0.1' }, () => resolve(socket))
    socket.once('error', reject)
  })
}

t.test('a head trickled a byte at a time is cut at its deadline; /healthz answers meanwhile', async (t) => {
  const deadlineMs = 1500
  const cluster = await startCluster(t, { env: { HANDSHAKE_TIMEOUT_MS: String(deadlineMs) } })
  const socket = await open(cluster.port)
  t.teardown(() => socket.destroy())
  const ended = closed(socket)
  const head = 'GET /api/rooms/lobby/messages HTTP/1.1\r\nHost: x\r\nX-Padding: ' + 'a'.repeat(200)
  let sent = 0
  const trickle = setInterval(() => { if (!socket.destroyed) socket.write(head.charAt(sent++ % head.length)) }, 100)
  t.teardown(() => clearInterval(trickle))
  const started = Date.now()
  t.equal((await fetch(`${cluster.url}/healthz`)).status, 200, 'health answers while the slow head trickles')
  await ended
  clearInterval(trickle)
  const heldMs = Date.now() - started
  t.ok(sent > 5, `bytes kept coming (${sent}) and did not extend the deadline`)
  t.ok(heldMs < deadlineMs + 1000, `closed within the deadline (${heldMs} ms, deadline ${deadlineMs} ms)`)
})

t.test('heads in progress per address are capped', async (t) => {
  const cluster = await startCluster(t, { env: { MAX_HEADS_PER_IP: '3', HANDSHAKE_TIMEOUT_MS: '10000' } })
  const slow = await Promise.all([1, 2, 3].map(async () => await open(cluster.port)))
  for (const socket of slow) {
    t.teardown(() => socket.destroy())
    socket.write('GET / HTTP/1.1\r\n')
  }
  // Let the primary see the three partial heads before the fourth connection arrives.
  await new Promise((resolve) => setTimeout(resolve, 200))
  const fourth = await open(cluster.port)
  t.teardown(() => fourth.destroy())
  const answer = await closed(fourth)
  t.match(answer, /^HTTP\/1\.1 429 /, 'the fourth head from the address is refused at once')
  t.match(answer, /"code":"E_RATE_LIMITED"/)
  t.equal((await fetch(`${cluster.url}/healthz`)).status, 429, 'this address stays capped while its three heads are pending')
  for (const socket of slow) socket.destroy()
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal((await fetch(`${cluster.url}/healthz`)).status, 200, 'a finished or closed head frees its place')
})

t.test('a body that stalls is cut at REQUEST_TIMEOUT_MS; other requests are served', async (t) => {
  const timeoutMs = 1500
  const cluster = await startCluster(t, { env: { REQUEST_TIMEOUT_MS: String(timeoutMs) } })
  const socket = await open(cluster.port)
  t.teardown(() => socket.destroy())
  const ended = closed(socket)
  socket.write('POST /api/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"user')
  const started = Date.now()
  t.equal((await fetch(`${cluster.url}/api/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username":"quick"}' })).status, 201, 'another sign-in meanwhile')
  const answer = await ended
  const heldMs = Date.now() - started
  t.match(answer, /^HTTP\/1\.1 408 /, 'answered 408 Request Timeout')
  t.ok(heldMs < timeoutMs + 1000, `closed within the deadline (${heldMs} ms, deadline ${timeoutMs} ms)`)
})
