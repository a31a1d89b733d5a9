import t from 'tap'
import type { RoomCreateOk } from '../src/protocol/events.js'
import { startCluster } from './helpers/cluster.js'
import { connect, request, signIn } from './helpers/client.js'

/** room:create: the creator owns the room; a name that exists (however made) is E_CONFLICT. */

t.test('room:create and its conflicts', async (t) => {
  const cluster = await startCluster(t)
  const alice = await signIn(cluster.url, 'alice')
  const bob = await signIn(cluster.url, 'bob')
  const a = await connect(t, cluster.url, alice.token)
  const b = await connect(t, cluster.url, bob.token)

  t.same(await request<RoomCreateOk>(a, 'room:create', { room: 'atelier' }), { ok: true, room: 'atelier', visibility: 'public' })
  t.same(await request<RoomCreateOk>(a, 'room:create', { room: 'hideout', visibility: 'private' }), { ok: true, room: 'hideout', visibility: 'private' })
  const conflict = { ok: false, error: { code: 'E_CONFLICT', message: String } }
  t.match(await request(b, 'room:create', { room: 'atelier' }), conflict, 'a public name that exists')
  t.match(await request(b, 'room:create', { room: 'hideout', visibility: 'public' }), conflict, 'a private name that exists')
  t.match(await request(a, 'room:create', { room: 'atelier' }), conflict, 'even for its owner')
  t.match(await request(b, 'room:join', { room: 'joined-first' }), { ok: true, role: 'owner' }, 'a join creates a room')
  t.match(await request(a, 'room:create', { room: 'joined-first' }), conflict, 'a room made by a join exists too')

  t.match(await request(a, 'room:create', { room: 'Bad Name' }), { ok: false, error: { code: 'E_VALIDATION' } })
  t.match(await request(a, 'room:create', { room: 'fine', visibility: 'secret' }), { ok: false, error: { code: 'E_VALIDATION' } })
  t.match(await request(a, 'room:create', null), { ok: false, error: { code: 'E_VALIDATION' } })
  t.match(await request(a, 'room:create', { room: 'dm-mine' }), { ok: false, error: { code: 'E_VALIDATION' } }, 'dm- is reserved')

  t.match(await request(a, 'room:join', { room: 'atelier' }), { ok: true, role: 'owner', visibility: 'public' }, 'the creator is its owner')
  t.match(await request(b, 'room:join', { room: 'atelier' }), { ok: true, role: 'member' })
  t.match(await request(a, 'room:join', { room: 'hideout' }), { ok: true, role: 'owner', visibility: 'private' })
  t.ok(a.connected && b.connected, 'no refusal disconnects')
})
