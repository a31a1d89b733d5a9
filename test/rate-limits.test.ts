import t from 'tap'
import type { Ack } from '../src/protocol/events.js'
import { startCluster } from './helpers/cluster.js'
import { clientMsgId, connect, metric, request, signIn } from './helpers/client.js'

/** Rate limits push back with E_RATE_LIMITED and a retry delay; a user's budget spans workers. */

function codes (acks: Ack[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const ack of acks) {
    const code = ack.ok ? 'ok' : ack.error.code
    counts[code] = (counts[code] ?? 0) + 1
  }
  return counts
}

t.test('one message budget per user across two tabs on two workers', async (t) => {
  const cluster = await startCluster(t, { env: { MESSAGE_RATE_PER_S: '0.5', MESSAGE_BURST: '4' } })
  const alice = await signIn(cluster.url, 'alice')
  const tab1 = await connect(t, cluster.url, alice.token)
  const tab2 = await connect(t, cluster.url, alice.token)
  t.same([await metric(cluster.opsUrl, 'chat_connections', { worker: '1' }), await metric(cluster.opsUrl, 'chat_connections', { worker: '2' })], [1, 1], 'one tab on each worker')
  const bob = await connect(t, cluster.url, (await signIn(cluster.url, 'bob')).token)
  for (const socket of [tab1, tab2, bob]) await request(socket, 'room:join', { room: 'limits' })

  const acks: Ack[] = []
  for (let i = 0; i < 12; i++) acks.push(await request(i % 2 === 0 ? tab1 : tab2, 'message:send', { room: 'limits', text: `m${i}`, clientMsgId: clientMsgId() }))
  const counts = codes(acks)
  t.ok((counts.ok ?? 0) >= 4 && (counts.ok ?? 0) <= 6, `a steady point plus the burst, shared by both tabs (ok: ${counts.ok ?? 0} of 12)`)
  t.equal((counts.ok ?? 0) + (counts.E_RATE_LIMITED ?? 0), 12, 'the rest were told E_RATE_LIMITED')
  const limited = acks.find((ack) => !ack.ok)
  t.match(limited, { ok: false, error: { code: 'E_RATE_LIMITED', retryAfterMs: Number } })
  t.ok(!limited?.ok && (limited?.error.retryAfterMs ?? 0) > 0, 'retryAfterMs is positive')
  t.match(await request(bob, 'message:send', { room: 'limits', text: 'unaffected', clientMsgId: clientMsgId() }), { ok: true }, 'another user keeps their own budget')
  t.ok(await metric(cluster.opsUrl, 'chat_rate_limited_total', { kind: 'message:send' }) >= 6, 'counted in /metrics')
})

t.test('typing throttle', async (t) => {
  const cluster = await startCluster(t, { env: { TYPING_RATE_PER_S: '1' } })
  const socket = await connect(t, cluster.url, (await signIn(cluster.url, 'carol')).token)
  await request(socket, 'room:join', { room: 'limits' })
  t.same(await request(socket, 'typing', { room: 'limits', typing: true }), { ok: true })
  t.match(await request(socket, 'typing', { room: 'limits', typing: true }), { ok: false, error: { code: 'E_RATE_LIMITED', retryAfterMs: Number } })
  t.same(await request(socket, 'typing', { room: 'limits', typing: false }), { ok: true }, 'stopping is never throttled')
})

t.test('per-socket event rate and queue bound', async (t) => {
  const cluster = await startCluster(t, { env: { EVENT_RATE_PER_S: '0.5', EVENT_BURST: '3', SOCKET_MAX_QUEUED_EVENTS: '4' } })
  const socket = await connect(t, cluster.url, (await signIn(cluster.url, 'dave')).token)
  await request(socket, 'room:join', { room: 'limits' })
  // 30 history requests at once from one socket: a few fit the budget, the rest are refused,
  // either by the event rate or at once by the queue bound.
  const burst = await Promise.all(Array.from({ length: 30 }, async () => await request(socket, 'history', { room: 'limits' })))
  const counts = codes(burst)
  t.ok((counts.ok ?? 0) >= 1, `the first ones were served (${JSON.stringify(counts)})`)
  t.ok((counts.E_RATE_LIMITED ?? 0) >= 20, 'most were refused E_RATE_LIMITED')
  t.equal((counts.ok ?? 0) + (counts.E_RATE_LIMITED ?? 0), 30, 'every request answered')
  t.ok(burst.every((ack) => ack.ok || (ack.error.retryAfterMs ?? 0) > 0), 'every refusal carries a retry delay')
  t.ok(socket.connected, 'rate limiting never disconnects')
})

t.test('REST limits: 429 with Retry-After and E_RATE_LIMITED, counted for the whole service', async (t) => {
  const cluster = await startCluster(t, { env: { REST_SESSIONS_PER_MIN: '3', REST_READS_PER_MIN: '4' } })
  const statuses: number[] = []
  let limited: Response | undefined
  for (let i = 0; i < 6; i++) {
    const response = await fetch(`${cluster.url}/api/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: `u${i}` }) })
    statuses.push(response.status)
    if (response.status === 429) limited ??= response
    else await response.arrayBuffer()
  }
  // Requests alternate between the two workers; a per-worker limit would have let 6 through.
  t.same(statuses, [201, 201, 201, 429, 429, 429])
  t.ok(Number(limited?.headers.get('retry-after')) > 0, 'Retry-After header')
  t.match(await limited?.json(), { error: { code: 'E_RATE_LIMITED', message: String, retryAfterMs: Number } })

  const token = (await (await fetch(`${cluster.url}/api/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username":"x"}' })).json() as { token?: string }).token
  t.equal(token, undefined, 'still limited')
})
