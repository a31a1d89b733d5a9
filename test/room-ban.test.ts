import t from 'tap'
import type { RoomRemovedEvent } from '../src/protocol/events.js'
import { startCluster } from './helpers/cluster.js'
import { onStore, STORES } from './helpers/stores.js'
import { clientMsgId, collectMessages, connect, eventually, request, signIn } from './helpers/client.js'

/**
 * A ban kicks (reason "banned") on every worker and refuses the user's room:join with E_FORBIDDEN,
 * in public and private rooms alike, until an unban; an unban restores no membership.
 */

for (const store of STORES) {
  t.test(`ban and unban (${store})`, async (t) => {
    const cluster = await startCluster(t, await onStore(t, store, { workers: 2 }))
    const troll = await signIn(cluster.url, 'troll')
    const owner = await signIn(cluster.url, 'owner')
    const mod = await signIn(cluster.url, 'mod')
    const tab1 = await connect(t, cluster.url, troll.token)
    const tab2 = await connect(t, cluster.url, troll.token)
    const ownerSocket = await connect(t, cluster.url, owner.token)
    const modSocket = await connect(t, cluster.url, mod.token)
    const removed: RoomRemovedEvent[] = []
    tab1.on('room:removed', (event) => removed.push(event))
    tab2.on('room:removed', (event) => removed.push(event))

    t.match(await request(ownerSocket, 'room:join', { room: 'plaza' }), { ok: true, role: 'owner' })
    t.match(await request(modSocket, 'room:join', { room: 'plaza' }), { ok: true })
    t.same(await request(ownerSocket, 'room:role', { room: 'plaza', userId: mod.userId, role: 'moderator' }), { ok: true })
    t.match(await request(tab1, 'room:join', { room: 'plaza' }), { ok: true })
    t.match(await request(tab2, 'room:join', { room: 'plaza' }), { ok: true })
    const at1 = collectMessages(tab1)

    t.match(await request(tab1, 'room:ban', { room: 'plaza', userId: mod.userId }), { ok: false, error: { code: 'E_FORBIDDEN' } }, 'a member cannot ban')
    t.match(await request(modSocket, 'room:ban', { room: 'plaza', userId: 'nobody-at-all' }), { ok: false, error: { code: 'E_VALIDATION' } }, 'banning an unknown user')
    t.same(await request(modSocket, 'room:ban', { room: 'plaza', userId: troll.userId }), { ok: true }, 'a moderator bans')
    await eventually(() => removed.length === 2)
    t.same(removed, [{ room: 'plaza', reason: 'banned' }, { room: 'plaza', reason: 'banned' }], 'both tabs hear the ban')
    t.match(await request(ownerSocket, 'message:send', { room: 'plaza', text: 'after the ban', clientMsgId: clientMsgId() }), { ok: true })
    t.match(await request(tab1, 'room:join', { room: 'plaza' }), { ok: false, error: { code: 'E_FORBIDDEN' } }, 'a banned user cannot join a public room')
    t.match(await request(tab2, 'room:join', { room: 'plaza', since: 0 }), { ok: false, error: { code: 'E_FORBIDDEN' } })
    const list = await (await fetch(`${cluster.url}/api/rooms`, { headers: { authorization: `Bearer ${troll.token}` } })).json() as { rooms: unknown[] }
    t.same(list.rooms, [], 'the ban ended the membership')

    t.same(await request(modSocket, 'room:unban', { room: 'plaza', userId: troll.userId }), { ok: true }, 'a moderator unbans')
    t.same(await request(modSocket, 'room:unban', { room: 'plaza', userId: troll.userId }), { ok: true }, 'a second unban changes nothing')
    t.match(await request(tab1, 'room:join', { room: 'plaza', since: 0 }), { ok: true, role: 'member', missed: [{ text: 'after the ban' }] }, 'joins again after the unban')
    t.same(at1, [], 'nothing of the room reached the banned user live')

    t.match(await request(ownerSocket, 'room:create', { room: 'vault', visibility: 'private' }), { ok: true })
    t.same(await request(ownerSocket, 'room:invite', { room: 'vault', userId: troll.userId }), { ok: true })
    t.same(await request(ownerSocket, 'room:ban', { room: 'vault', userId: troll.userId }), { ok: true }, 'a member of a private room is banned')
    t.match(await request(ownerSocket, 'room:invite', { room: 'vault', userId: troll.userId }), { ok: false, error: { code: 'E_FORBIDDEN' } },
      'a banned user cannot be invited before the unban')
    t.match(await request(tab1, 'room:join', { room: 'vault' }), { ok: false, error: { code: 'E_FORBIDDEN' } })
    t.same(await request(ownerSocket, 'room:unban', { room: 'vault', userId: troll.userId }), { ok: true })
    t.match(await request(tab1, 'room:join', { room: 'vault' }), { ok: false, error: { code: 'E_FORBIDDEN' } }, 'an unban restores no membership of a private room')
    t.same(await request(ownerSocket, 'room:invite', { room: 'vault', userId: troll.userId }), { ok: true })
    t.match(await request(tab1, 'room:join', { room: 'vault' }), { ok: true }, 'invited again, joins')
  })
}