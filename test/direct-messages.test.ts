import t from 'tap'
import type { DmOpenOk, MessageSendOk, RoomJoinOk } from '../src/protocol/events.js'
import { startCluster } from './helpers/cluster.js'
import { onStore, STORES } from './helpers/stores.js'
import { clientMsgId, connect, request, signIn } from './helpers/client.js'

/**
 * dm:open gives the same private room whichever side opens it; exactly those two members, no
 * invitations, no moderation; a third user is refused E_FORBIDDEN; oneself or an unknown user is
 * E_VALIDATION.
 */

for (const store of STORES) {
  t.test(`a direct-message room opened from both sides (${store})`, async (t) => {
    const cluster = await startCluster(t, await onStore(t, store))
    const alice = await signIn(cluster.url, 'alice')
    const bob = await signIn(cluster.url, 'bob')
    const eve = await signIn(cluster.url, 'eve')
    const a = await connect(t, cluster.url, alice.token)
    const b = await connect(t, cluster.url, bob.token)
    const e = await connect(t, cluster.url, eve.token)

    const fromAlice = await request<DmOpenOk>(a, 'dm:open', { userId: bob.userId })
    const fromBob = await request<DmOpenOk>(b, 'dm:open', { userId: alice.userId })
    t.match(fromAlice, { ok: true, room: /^dm-[0-9a-f]{40}$/ })
    t.same(fromBob, fromAlice, 'the same room from either side')
    const room = fromAlice.ok ? fromAlice.room : ''
    t.same(await request(a, 'dm:open', { userId: bob.userId }), fromAlice, 'opening again finds it')

    t.match(await request<RoomJoinOk>(b, 'room:join', { room }), { ok: true, visibility: 'private', role: 'member', direct: true, staff: [] },
      'both sides are members')
    t.match(await request<RoomJoinOk>(a, 'room:join', { room }), { ok: true })
    t.match(await request<MessageSendOk>(a, 'message:send', { room, text: 'just us', clientMsgId: clientMsgId() }), { ok: true, seq: 1 })

    const forbidden = { ok: false, error: { code: 'E_FORBIDDEN' } }
    t.match(await request(e, 'room:join', { room }), forbidden, 'a third user cannot join')
    t.match(await request(e, 'history', { room }), forbidden, 'nor read')
    const rest = await fetch(`${cluster.url}/api/rooms/${room}/messages`, { headers: { authorization: `Bearer ${eve.token}` } })
    t.equal(rest.status, 403, 'nor read over REST')
    t.match(await request(a, 'room:invite', { room, userId: eve.userId }), forbidden, 'no invitations')
    t.match(await request(a, 'room:kick', { room, userId: bob.userId }), forbidden, 'no moderation')
    t.match(await request(a, 'room:role', { room, userId: bob.userId, role: 'moderator' }), forbidden, 'no roles')
    t.match(await request(e, 'room:create', { room }), { ok: false, error: { code: 'E_VALIDATION' } }, 'dm- names are reserved')
    t.match(await request(e, 'room:join', { room: 'dm-0000000000000000000000000000000000000000' }), forbidden,
      'a dm- name that was never opened answers like any private room')

    t.match(await request(a, 'dm:open', { userId: alice.userId }), { ok: false, error: { code: 'E_VALIDATION' } }, 'not with oneself')
    t.match(await request(a, 'dm:open', { userId: 'no-such-user' }), { ok: false, error: { code: 'E_VALIDATION' } }, 'not with an unknown user')
    t.match(await request(a, 'dm:open', {}), { ok: false, error: { code: 'E_VALIDATION' } })
    t.match(await request(a, 'dm:open', { userId: 42 }), { ok: false, error: { code: 'E_VALIDATION' } })

    const withEve = await request<DmOpenOk>(e, 'dm:open', { userId: alice.userId })
    t.ok(withEve.ok && withEve.room !== room, 'another pair, another room')
    t.match(await request(a, 'room:join', { room: withEve.ok ? withEve.room : '' }), { ok: true, direct: true }, 'opened by one side, joined by the other')
    const list = await (await fetch(`${cluster.url}/api/rooms`, { headers: { authorization: `Bearer ${bob.token}` } })).json()
    t.same(list, { rooms: [{ room, visibility: 'private', role: 'member', direct: true }] }, "a DM is in both sides' rooms")
  })
}