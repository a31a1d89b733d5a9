import t from 'tap'
import type { Ack, MessageSendOk } from '../src/protocol/events.js'
import { clientMsgId, connect, eventually, request, signIn } from './helpers/client.js'
import { startCluster } from './helpers/cluster.js'
import { flood, roamingReceiver, roamingSender, roomHistory, seqReport, startBackends, startVm } from './helpers/multi-vm.js'

/**
 * PostgreSQL failures: every backend of the service terminated mid-flood (pg_terminate_backend,
 * three times) loses nothing acked and stores nothing twice, and the service reconnects by
 * itself; PostgreSQL gone for good gets sends answered E_OVERLOADED with retryAfterMs (never a
 * false ack) and /readyz 503; PostgreSQL unreachable at start refuses the start with one clear
 * line.
 */

t.test('every PostgreSQL backend terminated mid-flood', async (t) => {
  const backends = await startBackends(t)
  const a = await startVm(t, backends, { workers: 1 })
  const b = await startVm(t, backends, { workers: 2 })
  const sessions = await Promise.all(['p1', 'p2', 'p3'].map(async (name) => await signIn(a.url, name)))
  const receiver = await roamingReceiver(t, [b.url], sessions[2]!.token, 'pgfault')
  const senders = [await roamingSender(t, [a.url], sessions[0]!.token, 'pgfault'), await roamingSender(t, [b.url], sessions[1]!.token, 'pgfault')]

  const sending = flood(senders, 150, 10)
  let terminated = 0
  for (let round = 0; round < 3; round++) {
    await new Promise((resolve) => setTimeout(resolve, 700))
    terminated += await backends.pg.terminateService()
  }
  t.ok(terminated > 0, `terminated ${terminated} backends of the service`)
  await sending

  const acked = senders.flatMap((sender) => sender.acked)
  t.equal(acked.length, 300, 'every send acked in the end (the service recovered by itself)')
  const stored = await roomHistory(a.url, sessions[0]!.token, 'pgfault')
  const report = seqReport(stored)
  t.ok(report.gapless && report.duplicates === 0, 'seq gapless')
  t.equal(stored.length, 300, 'no message stored twice')
  const storedIds = new Set(stored.map((message) => message.id))
  t.ok(acked.every((entry) => storedIds.has(entry.id)), '0 acked messages lost')
  await eventually(() => receiver.received.length >= 300, 15_000).catch(() => {})
  const got = seqReport(receiver.received)
  t.ok(receiver.received.length === 300 && got.duplicates === 0 && got.ordered, 'the receiver got every message once, in order')

  // PostgreSQL gone: no false ack, E_OVERLOADED with retryAfterMs, /readyz 503.
  const socket = await connect(t, a.url, sessions[0]!.token)
  t.ok((await request(socket, 'room:join', { room: 'pgfault' })).ok)
  await backends.pg.stop()
  const answer = await request<MessageSendOk>(socket, 'message:send', { room: 'pgfault', text: 'into the void', clientMsgId: clientMsgId() }, 20_000) as Ack<MessageSendOk>
  t.equal(answer.ok, false, 'no ack while PostgreSQL is gone')
  if (!answer.ok) {
    t.equal(answer.error.code, 'E_OVERLOADED')
    t.ok((answer.error.retryAfterMs ?? 0) > 0, 'with retryAfterMs')
  }
  let status = 0
  await eventually(() => {
    void fetch(`${a.url}/readyz`).then((response) => { status = response.status }, () => {})
    return status === 503
  }, 10_000, 200)
  t.equal(status, 503, '/readyz answers 503 while PostgreSQL is gone')
  for (const sender of senders) sender.close()
  receiver.close()
})

t.test('PostgreSQL unreachable at start: the service refuses to start with one clear line', async (t) => {
  const error = await startCluster(t, { env: { STORE: 'postgres', DATABASE_URL: 'postgres://chat:secret-password@127.0.0.1:1/chat', PG_CONNECT_TIMEOUT_MS: '1000' } })
    .then(() => undefined, (failure: unknown) => failure as Error & { logs?: Array<{ msg?: string, level?: number }> })
  t.ok(error !== undefined, 'the start failed')
  const fatal = (error?.logs ?? []).filter((line) => line.level === 60)
  t.equal(fatal.length, 1, 'one fatal line')
  t.match(fatal[0]?.msg ?? '', /PostgreSQL at 127\.0\.0\.1:1\/chat is unreachable/, 'naming where it looked')
  t.notMatch(JSON.stringify(error?.logs ?? []), /secret-password/, 'without the password')
})
