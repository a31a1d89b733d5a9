import t from 'tap'
import type { MessageSendOk, RoomJoinOk } from '../src/protocol/events.js'
import { startCluster } from './helpers/cluster.js'
import { clientMsgId, collectMessages, connect, eventually, metric, request, signIn } from './helpers/client.js'

t.test('two clients on different workers chat both ways', async (t) => {
  const cluster = await startCluster(t)
  const alice = await signIn(cluster.url, 'alice')
  const bob = await signIn(cluster.url, 'bob')
  const a = await connect(t, cluster.url, alice.token)
  const b = await connect(t, cluster.url, bob.token)

  // Least-connection balancing put one client on each worker.
  t.same(await metric(cluster.opsUrl, 'chat_connections', { worker: '1' }), 1)
  t.same(await metric(cluster.opsUrl, 'chat_connections', { worker: '2' }), 1)

  const atA = collectMessages(a)
  const atB = collectMessages(b)
  const aliceOnline: string[] = []
  b.on('presence', (event) => { if (event.username === 'alice' && event.status === 'online') aliceOnline.push(event.room) })
  const joinA = await request<RoomJoinOk>(a, 'room:join', { room: 'lobby' })
  const joinB = await request<RoomJoinOk>(b, 'room:join', { room: 'lobby' })
  t.match(joinA, { ok: true, room: 'lobby', seq: 0, missed: [], hasMore: false })
  t.match(joinB, { ok: true, room: 'lobby', seq: 0, hasMore: false })
  // Presence crosses workers asynchronously: alice is in bob's member list, or her "online"
  // reaches bob right after his join.
  await eventually(() => (joinB.ok && joinB.members.some((member) => member.username === 'alice')) || aliceOnline.includes('lobby'))
  t.pass('bob learns that alice is in the room')

  const sentA = await request<MessageSendOk>(a, 'message:send', { room: 'lobby', text: 'hi bob', clientMsgId: clientMsgId() })
  const sentB = await request<MessageSendOk>(b, 'message:send', { room: 'lobby', text: 'hi alice', clientMsgId: clientMsgId() })
  t.match(sentA, { ok: true, seq: 1 })
  t.match(sentB, { ok: true, seq: 2 })
  t.ok(sentA.ok && typeof sentA.id === 'string' && typeof sentA.ts === 'number')

  await eventually(() => atA.length === 2 && atB.length === 2)
  for (const received of [atA, atB]) {
    t.same(received.map((m) => [m.seq, m.username, m.text]), [[1, 'alice', 'hi bob'], [2, 'bob', 'hi alice']])
  }
  t.equal(atB[0]?.userId, alice.userId, 'identity comes from the token')
})

t.test('long-polling client through the sticky balancer, and polling upgraded to websocket', async (t) => {
  const cluster = await startCluster(t)
  const carol = await signIn(cluster.url, 'carol')
  const dave = await signIn(cluster.url, 'dave')
  const polling = await connect(t, cluster.url, carol.token, { transports: ['polling'] })
  const upgrading = await connect(t, cluster.url, dave.token, { transports: ['polling', 'websocket'] })
  await eventually(() => upgrading.io.engine.transport.name === 'websocket')
  t.equal(polling.io.engine.transport.name, 'polling')

  const atPolling = collectMessages(polling)
  const atUpgraded = collectMessages(upgrading)
  await request(polling, 'room:join', { room: 'poll' })
  await request(upgrading, 'room:join', { room: 'poll' })
  for (let i = 0; i < 20; i++) {
    const sender = i % 2 === 0 ? polling : upgrading
    const ack = await request<MessageSendOk>(sender, 'message:send', { room: 'poll', text: `m${i}`, clientMsgId: clientMsgId() })
    t.ok(ack.ok, `send ${i} acked`)
  }
  await eventually(() => atPolling.length === 20 && atUpgraded.length === 20)
  t.same(atPolling.map((m) => m.seq), Array.from({ length: 20 }, (_, i) => i + 1))
  t.same(atUpgraded.map((m) => m.text), atPolling.map((m) => m.text))
})
