import t from 'tap'
import type { RoomJoinOk } from '../src/protocol/events.js'
import type { PresenceEvent, TypingEvent } from '../src/protocol/events.js'
import { startCluster } from './helpers/cluster.js'
import { connect, eventually, metric, request, signIn } from './helpers/client.js'

/**
 * Presence across workers: a user with two tabs (one per worker) stays online until the last
 * tab leaves; offline waits a grace period so a quick reconnect does not flap; typing is relayed
 * to the room only and a tab that leaves while typing stops typing.
 */

t.test('two tabs on two workers, grace period, typing relay', async (t) => {
  const cluster = await startCluster(t, { env: { PRESENCE_GRACE_MS: '300' } })
  const watcherSession = await signIn(cluster.url, 'watcher')
  const alice = await signIn(cluster.url, 'alice')
  const watcher = await connect(t, cluster.url, watcherSession.token)
  const tab1 = await connect(t, cluster.url, alice.token)
  const tab2 = await connect(t, cluster.url, alice.token)
  t.equal(await metric(cluster.opsUrl, 'chat_connections', { worker: '1' }) + await metric(cluster.opsUrl, 'chat_connections', { worker: '2' }), 3)

  const presence: PresenceEvent[] = []
  const typing: TypingEvent[] = []
  watcher.on('presence', (event) => { if (event.userId === alice.userId) presence.push(event) })
  watcher.on('typing', (event) => typing.push(event))
  await request(watcher, 'room:join', { room: 'hall' })
  await request(tab1, 'room:join', { room: 'hall' })
  await eventually(() => presence.length === 1)
  t.match(presence[0], { room: 'hall', userId: alice.userId, username: 'alice', status: 'online' })
  const second = await request<RoomJoinOk>(tab2, 'room:join', { room: 'hall' })
  t.same(second.ok && second.members.map((m) => m.username).sort(), ['alice', 'watcher'], 'members list across workers, alice once')

  t.same(await request(tab1, 'typing', { room: 'hall', typing: true }), { ok: true })
  await eventually(() => typing.length === 1)
  t.match(typing[0], { room: 'hall', userId: alice.userId, typing: true })

  tab1.close() // leaves while typing
  await eventually(() => typing.length === 2)
  t.match(typing[1], { typing: false }, 'a tab that disconnects while typing stops typing')
  await new Promise((resolve) => setTimeout(resolve, 700))
  t.equal(presence.length, 1, 'still online: the other tab is in the room')

  // A quick reconnect within the grace period: no offline/online flap.
  t.same(await request(tab2, 'room:leave', { room: 'hall' }), { ok: true })
  await request(tab2, 'room:join', { room: 'hall' })
  await new Promise((resolve) => setTimeout(resolve, 700))
  t.equal(presence.length, 1, 'no flap on a quick rejoin')

  tab2.close()
  await eventually(() => presence.length === 2)
  t.match(presence[1], { userId: alice.userId, status: 'offline' }, 'offline once the last tab left')
  const after = await request<RoomJoinOk>(watcher, 'room:join', { room: 'hall' })
  t.same(after.ok && after.members.map((m) => m.username), ['watcher'])
})
