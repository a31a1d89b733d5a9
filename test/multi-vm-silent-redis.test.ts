import { createServer, connect as tcpConnect, type Socket } from 'node:net'
import t from 'tap'
import { collectMessages, connect, eventually, metric, request, signIn, clientMsgId } from './helpers/client.js'
import { startBackends, startVm } from './helpers/multi-vm.js'

/**
 * A Redis connection that dies silently (a network path that black-holes it without closing):
 * VM B reaches Redis through a proxy that, at one point, stops forwarding on every connection it
 * has open while keeping them open. B's liveness probe notices its subscription hears nothing,
 * renews it (new connections pass), catches up from the store, and B's client keeps getting VM
 * A's messages, each once, in order. B checks positions only once a minute here, so only the
 * probe can bring them.
 */

interface Proxy { url: string, freeze: () => void, close: () => Promise<void>, frozen: () => number }

async function freezableProxy (target: URL): Promise<Proxy> {
  const open = new Set<{ client: Socket, upstream: Socket, frozen: boolean }>()
  const server = createServer((client) => {
    const upstream = tcpConnect(Number(target.port), target.hostname)
    const pair = { client, upstream, frozen: false }
    open.add(pair)
    client.on('data', (chunk) => { if (!pair.frozen) upstream.write(chunk) })
    upstream.on('data', (chunk) => { if (!pair.frozen) client.write(chunk) })
    const end = (): void => {
      open.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    client.on('close', end).on('error', end)
    upstream.on('close', end).on('error', end)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `redis://127.0.0.1:${port}`,
    freeze: () => { for (const pair of open) pair.frozen = true },
    frozen: () => [...open].filter((pair) => pair.frozen).length,
    close: async () => {
      for (const pair of open) {
        pair.client.destroy()
        pair.upstream.destroy()
      }
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

t.test('a silently dead subscription is noticed and renewed', async (t) => {
  const backends = await startBackends(t)
  const proxy = await freezableProxy(new URL(backends.redis.url))
  t.teardown(() => proxy.close())
  const a = await startVm(t, backends, { workers: 1 })
  const b = await startVm(t, backends, { workers: 1, env: { REDIS_URL: proxy.url, RECONCILE_INTERVAL_MS: '60000', REDIS_PROBE_INTERVAL_MS: '300' } })

  const sender = await signIn(a.url, 'sender')
  const reader = await signIn(b.url, 'reader')
  const onA = await connect(t, a.url, sender.token)
  const onB = await connect(t, b.url, reader.token)
  t.ok((await request(onA, 'room:join', { room: 'quiet' })).ok)
  t.ok((await request(onB, 'room:join', { room: 'quiet' })).ok)
  const received = collectMessages(onB)
  const send = async (text: string): Promise<void> => {
    const ack = await request(onA, 'message:send', { room: 'quiet', text, clientMsgId: clientMsgId() })
    t.ok(ack.ok, `${text} acked`)
  }
  await send('before')
  await eventually(() => received.length === 1, 10_000)
  t.equal(received[0]?.text, 'before', 'through Redis while the path works')

  proxy.freeze()
  t.ok(proxy.frozen() >= 2, `${proxy.frozen()} connections of VM B to Redis black-holed`)
  for (let i = 0; i < 5; i++) await send(`during ${i}`)
  await eventually(() => received.length === 6, 15_000)
  t.same(received.map((message) => message.seq), [1, 2, 3, 4, 5, 6], 'every message reached VM B once, in order')
  t.ok(await metric(b.opsUrl, 'chat_crossvm_probe_failures_total') >= 1, 'the probe noticed')
  await send('after')
  await eventually(() => received.length === 7, 10_000)
  t.equal(received[6]?.text, 'after', 'the renewed subscription carries what follows')
})
