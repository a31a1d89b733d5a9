import t from 'tap'
import type { MessageDeletedEvent, RoleEvent, RoomRemovedEvent } from '../src/client/index.js'
import { startCluster } from './helpers/cluster.js'
import { eventually } from './helpers/client.js'
import { startLibraryClient } from './helpers/library-client.js'

/**
 * The client library's 1.1 methods: rooms, invitations, moderation, direct messages, deletion
 * and GET /api/rooms, with refusals thrown as ChatClientError carrying the server's code.
 */

t.test('client library: rooms and moderation', async (t) => {
  const cluster = await startCluster(t)
  const owner = await startLibraryClient(t, cluster.url, 'owner')
  const guest = await startLibraryClient(t, cluster.url, 'guest')
  const ownerId = owner.client.session?.userId as string
  const guestId = guest.client.session?.userId as string
  const removed: RoomRemovedEvent[] = []
  const deleted: MessageDeletedEvent[] = []
  const roles: RoleEvent[] = []
  guest.client.on('removed', (event) => removed.push(event))
  guest.client.on('deleted', (event) => deleted.push(event))
  guest.client.on('role', (event) => roles.push(event))

  await owner.client.createRoom('atrium', 'private')
  await t.rejects(guest.client.createRoom('atrium'), { code: 'E_CONFLICT' }, 'a taken name')
  await owner.client.join('atrium')
  t.match(owner.syncs.at(-1), { room: 'atrium', info: { visibility: 'private', role: 'owner', staff: [{ userId: ownerId, role: 'owner' }], direct: false } })
  await t.rejects(guest.client.join('atrium'), { code: 'E_FORBIDDEN' }, 'not invited yet')
  await owner.client.invite('atrium', guestId)
  await guest.client.join('atrium')
  t.same(guest.client.roomInfo('atrium')?.role, 'member')

  await owner.client.setRole('atrium', guestId, 'moderator')
  await eventually(() => roles.length === 1)
  t.same(guest.client.roomInfo('atrium')?.role, 'moderator', 'the role event updates the room info')
  t.same(guest.client.roomInfo('atrium')?.staff.map((member) => member.role).sort(), ['moderator', 'owner'])
  await t.rejects(guest.client.kick('atrium', ownerId), { code: 'E_FORBIDDEN' }, 'nobody kicks the owner')
  await owner.client.setRole('atrium', guestId, 'member')

  const sent = await owner.client.send('atrium', 'delete me')
  t.equal(sent.state, 'delivered')
  await owner.client.deleteMessage('atrium', sent.state === 'delivered' ? sent.id : '')
  await eventually(() => deleted.length === 1)
  t.match(deleted, [{ room: 'atrium', seq: 1 }])

  t.match(await guest.client.listRooms(), [{ room: 'atrium', visibility: 'private', role: 'member', direct: false }])

  await owner.client.kick('atrium', guestId)
  await eventually(() => removed.length === 1)
  t.same(removed, [{ room: 'atrium', reason: 'kicked' }])
  t.same(guest.client.roomInfo('atrium'), undefined, 'the client stops keeping the room joined')
  t.same(await guest.client.listRooms(), [])

  const direct = await guest.client.openDirect(ownerId)
  t.equal(await owner.client.openDirect(guestId), direct, 'one room from both sides')
  await guest.client.join(direct)
  t.match(guest.syncs.at(-1), { room: direct, info: { direct: true, visibility: 'private' } })
  await t.rejects(guest.client.openDirect(guestId), { code: 'E_VALIDATION' })
})
