import t from 'tap'
import { startCluster } from './helpers/cluster.js'
import { onStore, STORES } from './helpers/stores.js'
import { connect, request, signIn } from './helpers/client.js'

/** GET /api/rooms lists the caller's memberships with visibility and role. */

for (const store of STORES) {
  t.test(`GET /api/rooms (${store})`, async (t) => {
    const cluster = await startCluster(t, await onStore(t, store))
    const alice = await signIn(cluster.url, 'alice')
    const bob = await signIn(cluster.url, 'bob')
    const a = await connect(t, cluster.url, alice.token)
    const b = await connect(t, cluster.url, bob.token)
    const list = async (token: string): Promise<{ status: number, body: unknown }> => {
      const response = await fetch(`${cluster.url}/api/rooms`, { headers: { authorization: `Bearer ${token}` } })
      return { status: response.status, body: await response.json() }
    }
    t.same(await list(alice.token), { status: 200, body: { rooms: [] } }, 'no rooms yet')

    t.match(await request(a, 'room:create', { room: 'b-private', visibility: 'private' }), { ok: true })
    t.match(await request(a, 'room:join', { room: 'a-public' }), { ok: true })
    t.match(await request(b, 'room:join', { room: 'a-public' }), { ok: true })
    t.match(await request(b, 'room:join', { room: 'c-own' }), { ok: true })
    t.same(await request(a, 'room:role', { room: 'a-public', userId: bob.userId, role: 'moderator' }), { ok: true })
    t.same(await request(a, 'room:leave', { room: 'a-public' }), { ok: true })

    t.same(await list(alice.token), {
      status: 200,
      body: {
        rooms: [
          { room: 'a-public', visibility: 'public', role: 'owner', direct: false },
          { room: 'b-private', visibility: 'private', role: 'owner', direct: false }
        ]
      }
    }, 'created and joined rooms; leaving keeps the membership')
    t.same(await list(bob.token), {
      status: 200,
      body: {
        rooms: [
          { room: 'a-public', visibility: 'public', role: 'moderator', direct: false },
          { room: 'c-own', visibility: 'public', role: 'owner', direct: false }
        ]
      }
    })
    t.same(await request(a, 'room:invite', { room: 'b-private', userId: bob.userId }), { ok: true })
    t.match(await list(bob.token), { body: { rooms: [{ room: 'a-public' }, { room: 'b-private', visibility: 'private', role: 'member' }, { room: 'c-own' }] } },
      'an invitation is a membership')

    const anonymous = await fetch(`${cluster.url}/api/rooms`)
    t.equal(anonymous.status, 401)
    t.match(await anonymous.json(), { error: { code: 'E_UNAUTHORIZED' } })
    const forged = await fetch(`${cluster.url}/api/rooms`, { headers: { authorization: 'Bearer nope' } })
    t.equal(forged.status, 401)
  })
}