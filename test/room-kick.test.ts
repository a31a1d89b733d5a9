import t from 'tap'
import type { RoomRemovedEvent } from '../src/protocol/events.js'
import { startCluster } from './helpers/cluster.js'
import { onStore, STORES } from './helpers/stores.js'
import { clientMsgId, collectMessages, connect, eventually, metric, request, signIn } from './helpers/client.js'

/**
 * A kick takes every connection of the user, on every worker, out of the room before the
 * moderator's ack, and tells each `room:removed`; their membership ends, so a private room needs
 * a new invitation (a public room may be joined again at once).
 */

for (const store of STORES) {
  t.test(`kick of a user with two tabs on two workers (${store})`, async (t) => {
    const cluster = await startCluster(t, await onStore(t, store, { workers: 2 }))
    const mallory = await signIn(cluster.url, 'mallory')
    const owner = await signIn(cluster.url, 'owner')
    // The two tabs connect first and one after the other: least-busy balancing puts one on each worker.
    const tab1 = await connect(t, cluster.url, mallory.token)
    const tab2 = await connect(t, cluster.url, mallory.token)
    t.same(await metric(cluster.opsUrl, 'chat_connections', { worker: '1' }), 1)
    t.same(await metric(cluster.opsUrl, 'chat_connections', { worker: '2' }), 1)
    const ownerSocket = await connect(t, cluster.url, owner.token)
    // A third tab that never opened the room hears about it too (to update its room list).
    const tab3 = await connect(t, cluster.url, mallory.token)

    t.match(await request(ownerSocket, 'room:create', { room: 'club', visibility: 'private' }), { ok: true })
    t.match(await request(ownerSocket, 'room:join', { room: 'club' }), { ok: true })
    t.same(await request(ownerSocket, 'room:invite', { room: 'club', userId: mallory.userId }), { ok: true })
    t.match(await request(tab1, 'room:join', { room: 'club' }), { ok: true })
    t.match(await request(tab2, 'room:join', { room: 'club' }), { ok: true })
    const removed: Array<[string, RoomRemovedEvent]> = []
    tab1.on('room:removed', (event) => removed.push(['tab1', event]))
    tab2.on('room:removed', (event) => removed.push(['tab2', event]))
    tab3.on('room:removed', (event) => removed.push(['tab3', event]))
    const at1 = collectMessages(tab1)
    const at2 = collectMessages(tab2)

    t.match(await request(ownerSocket, 'message:send', { room: 'club', text: 'before', clientMsgId: clientMsgId() }), { ok: true })
    await eventually(() => at1.length === 1 && at2.length === 1)

    t.match(await request(tab1, 'room:kick', { room: 'club', userId: owner.userId }), { ok: false, error: { code: 'E_FORBIDDEN' } }, 'a member cannot kick')
    t.match(await request(ownerSocket, 'room:kick', { room: 'club' }), { ok: false, error: { code: 'E_VALIDATION' } })
    t.same(await request(ownerSocket, 'room:kick', { room: 'club', userId: mallory.userId }), { ok: true }, 'the owner kicks')
    // The ack follows every worker's eviction: both tabs have heard it by now, or hear it in the
    // same IPC turn (Socket.IO delivers to the client asynchronously).
    await eventually(() => removed.length === 3)
    t.same(removed.map(([, event]) => event), Array(3).fill({ room: 'club', reason: 'kicked' }), 'every tab gets room:removed')
    t.same(removed.map(([tab]) => tab).sort(), ['tab1', 'tab2', 'tab3'])

    t.match(await request(ownerSocket, 'message:send', { room: 'club', text: 'after', clientMsgId: clientMsgId() }), { ok: true, seq: 2 })
    const sentinel = await signIn(cluster.url, 'sentinel')
    const sentinelSocket = await connect(t, cluster.url, sentinel.token)
    const atSentinel = collectMessages(sentinelSocket)
    t.match(await request(sentinelSocket, 'room:join', { room: 'lobby' }), { ok: true })
    t.match(await request(tab1, 'room:join', { room: 'lobby' }), { ok: true })
    t.match(await request(tab2, 'room:join', { room: 'lobby' }), { ok: true })
    t.match(await request(ownerSocket, 'room:join', { room: 'lobby' }), { ok: true })
    t.match(await request(ownerSocket, 'message:send', { room: 'lobby', text: 'later', clientMsgId: clientMsgId() }), { ok: true })
    // Messages of one worker arrive in commit order: once "later" (lobby) arrived, "after" (club,
    // committed earlier) would have too.
    await eventually(() => atSentinel.length === 1 && at1.length === 2 && at2.length === 2)
    t.same(at1.map((message) => message.text), ['before', 'later'], 'tab 1 receives nothing of the room after the kick')
    t.same(at2.map((message) => message.text), ['before', 'later'], 'tab 2 receives nothing of the room after the kick')

    const refused = { ok: false, error: { code: 'E_FORBIDDEN', message: 'room club is not open to you' } }
    t.match(await request(tab1, 'message:send', { room: 'club', text: 'still here?', clientMsgId: clientMsgId() }), refused, 'sending is refused')
    t.match(await request(tab2, 'history', { room: 'club' }), refused, 'reading is refused')
    t.match(await request(tab1, 'room:join', { room: 'club' }), refused, 'a private room needs a new invitation')
    t.same(await request(ownerSocket, 'room:invite', { room: 'club', userId: mallory.userId }), { ok: true })
    t.match(await request(tab1, 'room:join', { room: 'club', since: 1 }), { ok: true, missed: [{ seq: 2, text: 'after' }] }, 'invited again, back in')

    t.same(await request(ownerSocket, 'room:kick', { room: 'club', userId: 'never-a-member' }), { ok: true }, 'kicking a non-member changes nothing')
  })
}
for (const store of STORES) {
  t.test(`a kicked user may join a public room again at once (${store})`, async (t) => {
    const cluster = await startCluster(t, await onStore(t, store, { workers: 2 }))
    const owner = await signIn(cluster.url, 'owner')
    const guest = await signIn(cluster.url, 'guest')
    const ownerSocket = await connect(t, cluster.url, owner.token)
    const guestSocket = await connect(t, cluster.url, guest.token)
    t.match(await request(ownerSocket, 'room:join', { room: 'square' }), { ok: true, role: 'owner' }, 'joining a new room makes its owner')
    t.match(await request(guestSocket, 'room:join', { room: 'square' }), { ok: true, role: 'member', visibility: 'public' })
    const removed: RoomRemovedEvent[] = []
    guestSocket.on('room:removed', (event) => removed.push(event))
    t.same(await request(ownerSocket, 'room:kick', { room: 'square', userId: guest.userId }), { ok: true })
    await eventually(() => removed.length === 1)
    t.same(removed, [{ room: 'square', reason: 'kicked' }])
    t.match(await request(guestSocket, 'message:send', { room: 'square', text: 'hi', clientMsgId: clientMsgId() }), { ok: false, error: { code: 'E_NOT_MEMBER' } })
    t.match(await request(guestSocket, 'room:join', { room: 'square' }), { ok: true, role: 'member' }, 'rejoined')
  })
}