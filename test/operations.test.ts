import t from 'tap'
import { startCluster } from './helpers/cluster.js'
import { clientMsgId, connect, eventually, metric, request, signIn } from './helpers/client.js'

/**
 * Health and readiness (public port and operations listener) and Prometheus metrics aggregated
 * over every worker, served only on the operations listener (OPS_PORT, loopback).
 */

t.test('health, readiness and metrics', async (t) => {
  const cluster = await startCluster(t, { env: { SHUTDOWN_TIMEOUT_MS: '4000' } })
  t.same(await (await fetch(`${cluster.url}/healthz`)).json(), { status: 'ok' })
  const ready = await fetch(`${cluster.url}/readyz`)
  t.equal(ready.status, 200)
  t.same(await ready.json(), { status: 'ready', workersReady: 2 })

  const sockets = []
  for (let i = 0; i < 4; i++) {
    const socket = await connect(t, cluster.url, (await signIn(cluster.url, `u${i}`)).token)
    await request(socket, 'room:join', { room: 'ops' })
    sockets.push(socket)
  }
  for (const [i, socket] of sockets.entries()) {
    await request(socket, 'message:send', { room: 'ops', text: `hello ${i}`, clientMsgId: clientMsgId() })
    await request(socket, 'message:send', { room: 'ops', text: '', clientMsgId: clientMsgId() })
  }

  const publicMetrics = await fetch(`${cluster.url}/metrics`)
  t.equal(publicMetrics.status, 404, 'no /metrics on the public port')
  t.match(await publicMetrics.json(), { error: { code: 'E_NOT_FOUND' } })
  t.same(await (await fetch(`${cluster.opsUrl}/healthz`)).json(), { status: 'ok' }, '/healthz on the operations listener too')
  t.equal((await fetch(`${cluster.opsUrl}/readyz`)).status, 200, '/readyz on the operations listener too')
  t.equal((await fetch(`${cluster.opsUrl}/debug/memory`)).status, 404, 'no GC debug route unless DEBUG_GC_ROUTE')
  t.match(cluster.opsUrl, /^http:\/\/127\.0\.0\.1:\d+$/, 'the operations listener is on loopback by default')

  // Scrapes arriving together share one fan-out to the workers, and each gets the whole answer.
  const together = await Promise.all(Array.from({ length: 5 }, async () => await (await fetch(`${cluster.opsUrl}/metrics`)).text()))
  for (const text of together) t.match(text, /^chat_workers_ready 2$/m, 'a concurrent scrape is complete')

  const response = await fetch(`${cluster.opsUrl}/metrics`)
  t.match(response.headers.get('content-type'), /^text\/plain/)
  const text = await response.text()
  for (const name of ['chat_connections', 'chat_messages_stored_total', 'chat_messages_delivered_total', 'chat_acks_total', 'chat_event_loop_delay_seconds',
    'chat_store_commit_seconds_bucket', 'chat_store_batch_size_bucket', 'chat_pool_tasks_total', 'chat_pool_queue_size', 'chat_worker_memory_bytes',
    'chat_workers_ready', 'chat_handoffs_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes']) {
    t.match(text, new RegExp(`^${name}`, 'm'), `exposes ${name}`)
  }
  t.equal(await metric(cluster.opsUrl, 'chat_connections'), 4, 'connections summed over workers')
  t.ok(await metric(cluster.opsUrl, 'chat_connections', { worker: '1' }) > 0 && await metric(cluster.opsUrl, 'chat_connections', { worker: '2' }) > 0, 'and per worker')
  t.equal(await metric(cluster.opsUrl, 'chat_messages_stored_total'), 4, 'one counter for the whole service')
  t.equal(await metric(cluster.opsUrl, 'chat_messages_delivered_total'), 16, 'four messages to four sockets')
  t.equal(await metric(cluster.opsUrl, 'chat_acks_total', { event: 'message:send', code: 'ok' }), 4)
  t.equal(await metric(cluster.opsUrl, 'chat_acks_total', { event: 'message:send', code: 'E_VALIDATION' }), 4, 'acks by error code')
  t.equal(await metric(cluster.opsUrl, 'chat_workers_ready'), 2)
  t.match(text, /chat_worker_memory_bytes\{worker="1",kind="rss"\} \d+/)
  t.match(text, /chat_event_loop_delay_seconds\{worker="2",quantile="0.99"\} [\d.e-]+/)

  // Draining: still listening, /readyz says 503 and new work is refused with 503 until the exit.
  // A client that stopped reading cannot finish its close handshake, so the drain lasts until
  // its deadline and the probes below run during it.
  const stuck = await connect(t, cluster.url, (await signIn(cluster.url, 'stuck')).token)
  ;(stuck.io.engine.transport as unknown as { ws: { _socket: { pause: () => void } } }).ws._socket.pause()
  const exited = cluster.stop('SIGTERM')
  await eventually(() => cluster.logs.some((line) => line.msg === 'shutting down: draining workers'))
  const readiness = await fetch(`${cluster.url}/readyz`)
  t.same({ status: readiness.status, body: await readiness.json() }, { status: 503, body: { status: 'draining', workersReady: 0 } }, '503 while draining')
  const refused = await fetch(`${cluster.url}/api/rooms/ops/messages`)
  t.same([refused.status, refused.headers.get('retry-after')], [503, '1'], 'other requests: 503 with Retry-After')
  t.equal(await exited, 0)
})
