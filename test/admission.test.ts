import { connect as tcpConnect } from 'node:net'
import t from 'tap'
import WebSocket from 'ws'
import { startCluster } from './helpers/cluster.js'
import { connect, connectError, metric, signIn } from './helpers/client.js'

/** Admission: connection limits, per-address connection rate and handshake deadlines. */

t.test('MAX_CONNECTIONS: the excess gets E_OVERLOADED with a retry delay, at once, and capacity comes back', async (t) => {
  const cluster = await startCluster(t, { env: { MAX_CONNECTIONS: '4', OVERLOAD_RETRY_AFTER_MS: '1000' } })
  const { token } = await signIn(cluster.url, 'alice')
  const admitted = []
  for (let i = 0; i < 4; i++) admitted.push(await connect(t, cluster.url, token))
  const refused = await connectError(t, cluster.url, token)
  t.equal(refused.data?.code, 'E_OVERLOADED')
  const retryAfterMs = refused.data?.retryAfterMs ?? 0
  t.ok(retryAfterMs >= 500 && retryAfterMs <= 1500, `jittered retryAfterMs around the configured 1000 (${retryAfterMs})`)
  t.ok(await metric(cluster.opsUrl, 'chat_connections_rejected_total', { reason: 'max_connections' }) >= 1, 'counted')

  admitted[0]?.close()
  let back = false
  for (let i = 0; i < 50 && !back; i++) {
    try {
      await connect(t, cluster.url, token, {}, { retryOverloaded: false })
      back = true
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  t.ok(back, 'a client is admitted again once a slot is free')
})

t.test('per-address connection rate: the excess from one address is refused, another address is admitted', async (t) => {
  const cluster = await startCluster(t, { env: { CONNECTION_RATE_PER_IP_PER_S: '1', CONNECTION_BURST_PER_IP: '3' } })
  const { token } = await signIn(cluster.url, 'bob')
  const outcomes = await Promise.all(Array.from({ length: 10 }, async () => {
    try {
      await connect(t, cluster.url, token, {}, { retryOverloaded: false })
      return 'ok'
    } catch (error) {
      return (error as { data?: { code?: string } }).data?.code ?? 'other'
    }
  }))
  const ok = outcomes.filter((outcome) => outcome === 'ok').length
  t.ok(ok >= 3 && ok <= 5, `the burst and a steady point admitted (${ok} of 10)`)
  t.equal(outcomes.filter((outcome) => outcome === 'E_OVERLOADED').length, 10 - ok, 'the rest refused E_OVERLOADED')
  const other = await connect(t, cluster.url, token, { localAddress: '127.0.0.2' } as object)
  t.ok(other.connected, 'another source address has its own budget')
})

t.test('handshake deadlines: silent TCP, a partial request head and an engine without CONNECT are all closed', async (t) => {
  const cluster = await startCluster(t, { env: { HANDSHAKE_TIMEOUT_MS: '800' } })
  const closedBy = async (write: string | undefined): Promise<boolean> => await new Promise((resolve) => {
    const socket = tcpConnect(cluster.port, '127.0.0.1', () => { if (write !== undefined) socket.write(write) })
    t.teardown(() => socket.destroy())
    socket.on('error', () => {})
    socket.on('close', () => resolve(true))
    setTimeout(() => resolve(false), 10_000).unref()
  })
  t.ok(await closedBy(undefined), 'a connection that sends nothing is closed')
  t.ok(await closedBy('GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n'), 'a request head that never ends is closed')

  const ws = new WebSocket(`ws://127.0.0.1:${cluster.port}/socket.io/?EIO=4&transport=websocket`)
  t.teardown(() => ws.terminate())
  ws.on('message', (data) => { if (String(data) === '2') ws.send('3') })
  const closed = await new Promise<boolean>((resolve) => {
    ws.once('close', () => resolve(true))
    ws.once('error', () => resolve(true))
    setTimeout(() => resolve(false), 10_000).unref()
  })
  t.ok(closed, 'an engine connection that never sends the Socket.IO CONNECT is closed')
})
