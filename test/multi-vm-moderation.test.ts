import t from 'tap'
import type { RoomRemovedEvent } from '../src/protocol/events.js'
import { clientMsgId, collectMessages, connect, request, signIn } from './helpers/client.js'
import { startBackends, startVm } from './helpers/multi-vm.js'

/**
 * What one VM decides holds on every VM: a token revoked through VM A is refused on VM B and the
 * sockets using it there are disconnected within 2 s; a user kicked through VM A leaves the room
 * on VM B at once; a user's message budget is one budget however many VMs its tabs are on.
 */

t.test('revocation, kicks and message budgets across VMs', async (t) => {
  const backends = await startBackends(t)
  const a = await startVm(t, backends, { workers: 1, env: { MESSAGE_RATE_PER_S: '1', MESSAGE_BURST: '6' } })
  const b = await startVm(t, backends, { workers: 2, env: { MESSAGE_RATE_PER_S: '1', MESSAGE_BURST: '6' } })

  // Revocation through A disconnects the socket on B and refuses the token there.
  const eve = await signIn(a.url, 'eve')
  const onB = await connect(t, b.url, eve.token)
  const gone = new Promise<string>((resolve) => onB.once('disconnect', resolve))
  const revokedAt = Date.now()
  const deleted = await fetch(`${a.url}/api/sessions`, { method: 'DELETE', headers: { authorization: `Bearer ${eve.token}` } })
  t.equal(deleted.status, 204, 'revoked through VM A')
  t.equal(await gone, 'io server disconnect', 'the socket on VM B was disconnected')
  t.ok(Date.now() - revokedAt <= 2000, 'within 2 s of the revocation')
  const rest = await fetch(`${b.url}/api/rooms`, { headers: { authorization: `Bearer ${eve.token}` } })
  t.equal(rest.status, 401, 'VM B refuses the revoked token over REST')

  // A kick through A takes the user's socket on B out of the room.
  const owner = await signIn(a.url, 'owner')
  const mallory = await signIn(b.url, 'mallory')
  const ownerSocket = await connect(t, a.url, owner.token)
  t.ok((await request(ownerSocket, 'room:create', { room: 'guarded', visibility: 'private' })).ok)
  t.ok((await request(ownerSocket, 'room:join', { room: 'guarded' })).ok)
  t.ok((await request(ownerSocket, 'room:invite', { room: 'guarded', userId: mallory.userId })).ok)
  const malloryOnB = await connect(t, b.url, mallory.token)
  t.ok((await request(malloryOnB, 'room:join', { room: 'guarded' })).ok, 'mallory joined on VM B')
  const atMallory = collectMessages(malloryOnB)
  const removed = new Promise<RoomRemovedEvent>((resolve) => malloryOnB.once('room:removed', resolve))
  t.ok((await request(ownerSocket, 'room:kick', { room: 'guarded', userId: mallory.userId })).ok, 'kicked through VM A')
  t.same(await removed, { room: 'guarded', reason: 'kicked' }, 'mallory on VM B heard room:removed')
  t.ok((await request(ownerSocket, 'message:send', { room: 'guarded', text: 'after the kick', clientMsgId: clientMsgId() })).ok)
  await new Promise((resolve) => setTimeout(resolve, 1500))
  t.equal(atMallory.filter((message) => message.text === 'after the kick').length, 0, 'nothing reaches the kicked socket on VM B')
  const rejoin = await request(malloryOnB, 'room:join', { room: 'guarded' })
  t.equal(!rejoin.ok && rejoin.error.code, 'E_FORBIDDEN', 'and it cannot rejoin the private room')

  // One budget for a user with tabs on both VMs: the burst of 6 is shared.
  const sam = await signIn(a.url, 'sam')
  const samOnA = await connect(t, a.url, sam.token)
  const samOnB = await connect(t, b.url, sam.token)
  for (const socket of [samOnA, samOnB]) t.ok((await request(socket, 'room:join', { room: 'budget' })).ok)
  // Both VMs know sam is on both (presence crosses), so his budget is kept in Redis.
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const answers = []
  for (let i = 0; i < 10; i++) {
    answers.push(await request(i % 2 === 0 ? samOnA : samOnB, 'message:send', { room: 'budget', text: `n${i}`, clientMsgId: clientMsgId() }))
  }
  const accepted = answers.filter((answer) => answer.ok).length
  t.ok(accepted <= 7, `one budget across VMs: ${accepted} of 10 accepted (burst 6)`)
  t.ok(answers.some((answer) => !answer.ok && answer.error.code === 'E_RATE_LIMITED'), 'the rest answered E_RATE_LIMITED')
})
