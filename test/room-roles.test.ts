import t from 'tap'
import type { RoleEvent, RoomJoinOk } from '../src/protocol/events.js'
import { startCluster } from './helpers/cluster.js'
import { onStore, STORES } from './helpers/stores.js'
import { connect, eventually, request, signIn } from './helpers/client.js'

/**
 * Roles: only the owner makes a member a moderator or back (the room hears `room:role`);
 * moderators kick members but not each other; nobody can kick, ban or demote the owner.
 */

for (const store of STORES) {
  t.test(`role changes and the owner is untouchable (${store})`, async (t) => {
    const cluster = await startCluster(t, await onStore(t, store))
    const owner = await signIn(cluster.url, 'owner')
    const anna = await signIn(cluster.url, 'anna')
    const ben = await signIn(cluster.url, 'ben')
    const ownerSocket = await connect(t, cluster.url, owner.token)
    const annaSocket = await connect(t, cluster.url, anna.token)
    const benSocket = await connect(t, cluster.url, ben.token)
    t.match(await request(ownerSocket, 'room:create', { room: 'guild' }), { ok: true, visibility: 'public' }, 'public by default')
    for (const socket of [ownerSocket, annaSocket, benSocket]) t.match(await request(socket, 'room:join', { room: 'guild' }), { ok: true })
    const roleEvents: RoleEvent[] = []
    benSocket.on('room:role', (event) => roleEvents.push(event))

    const forbidden = { ok: false, error: { code: 'E_FORBIDDEN' } }
    t.match(await request(annaSocket, 'room:role', { room: 'guild', userId: anna.userId, role: 'moderator' }), forbidden, 'a member cannot promote herself')
    t.match(await request(ownerSocket, 'room:role', { room: 'guild', userId: anna.userId, role: 'owner' }), { ok: false, error: { code: 'E_VALIDATION' } }, 'ownership cannot be given')
    t.match(await request(ownerSocket, 'room:role', { room: 'guild', userId: 'stranger', role: 'moderator' }), { ok: false, error: { code: 'E_VALIDATION' } }, 'a non-member gets no role')
    t.same(await request(ownerSocket, 'room:role', { room: 'guild', userId: anna.userId, role: 'moderator' }), { ok: true }, 'the owner promotes')
    await eventually(() => roleEvents.length === 1)
    t.same(roleEvents, [{ room: 'guild', userId: anna.userId, role: 'moderator' }], 'the room hears the change')
    const rejoin = await request<RoomJoinOk>(annaSocket, 'room:join', { room: 'guild' })
    t.match(rejoin, { ok: true, role: 'moderator' })
    t.same(rejoin.ok && [...(rejoin.staff ?? [])].sort((a, b) => a.role.localeCompare(b.role)),
      [{ userId: anna.userId, role: 'moderator' }, { userId: owner.userId, role: 'owner' }], 'staff lists owner and moderators')

    t.match(await request(annaSocket, 'room:role', { room: 'guild', userId: ben.userId, role: 'moderator' }), forbidden, 'a moderator cannot promote')
    t.match(await request(annaSocket, 'room:kick', { room: 'guild', userId: owner.userId }), forbidden, 'a moderator cannot kick the owner')
    t.match(await request(annaSocket, 'room:ban', { room: 'guild', userId: owner.userId }), forbidden, 'a moderator cannot ban the owner')
    t.match(await request(ownerSocket, 'room:kick', { room: 'guild', userId: owner.userId }), forbidden, 'the owner cannot kick herself')
    t.match(await request(ownerSocket, 'room:role', { room: 'guild', userId: owner.userId, role: 'member' }), forbidden, 'nobody demotes the owner')
    t.match(await request(benSocket, 'room:kick', { room: 'guild', userId: owner.userId }), forbidden, 'a member cannot kick the owner')

    t.same(await request(ownerSocket, 'room:role', { room: 'guild', userId: ben.userId, role: 'moderator' }), { ok: true })
    t.match(await request(annaSocket, 'room:kick', { room: 'guild', userId: ben.userId }), forbidden, 'a moderator cannot kick another moderator')
    t.same(await request(ownerSocket, 'room:role', { room: 'guild', userId: ben.userId, role: 'member' }), { ok: true }, 'the owner demotes')
    await eventually(() => roleEvents.some((event) => event.userId === ben.userId && event.role === 'member'))
    t.same(await request(annaSocket, 'room:kick', { room: 'guild', userId: ben.userId }), { ok: true }, 'a moderator kicks a member')
    t.match(await request(benSocket, 'room:kick', { room: 'guild', userId: anna.userId }), forbidden, 'the kicked user has no role left')
    t.match(await request(benSocket, 'room:join', { room: 'guild' }), { ok: true, role: 'member' }, 'a kick ends the role too')
  })
}