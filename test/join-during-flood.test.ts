import t, { type Test } from 'tap'
import type { Ack, RoomJoinOk } from '../src/protocol/events.js'
import type { Message } from '../src/protocol/schemas.js'
import { connect, signIn, type ChatClient } from './helpers/client.js'
import { startCluster, type ClusterHandle } from './helpers/cluster.js'
import { flood, roamingSender, startBackends, startVm } from './helpers/multi-vm.js'

/**
 * Joining a room while it floods, with store reads that take time (SQLite on one VM, and
 * PostgreSQL with messages arriving from another VM through Redis): what the join answers as
 * `missed` and what arrives live afterwards join up exactly, with no message missed, none twice,
 * all in seq order, for every joiner.
 */

interface Joiner { sequence: Message[] }

/** Connects and joins with `since`, recording `missed` (in the ack callback) and live messages in arrival order. */
async function join (t: Test, url: string, token: string, room: string, since: number): Promise<Joiner> {
  const socket: ChatClient = await connect(t, url, token)
  const joiner: Joiner = { sequence: [] }
  socket.on('message', (message) => { if (message.room === room) joiner.sequence.push(message) })
  await new Promise<void>((resolve, reject) => {
    socket.timeout(10_000).emit('room:join', { room, since }, (error: Error | null, ack: Ack<RoomJoinOk>) => {
      if (error !== null || !ack.ok) { reject(error ?? new Error(JSON.stringify(ack))); return }
      joiner.sequence.unshift(...ack.missed)
      resolve()
    })
  })
  return joiner
}

async function joinWhileFlooding (t: Test, vms: ClusterHandle[]): Promise<void> {
  const urls = vms.map((vm) => vm.url)
  const senders = await Promise.all(vms.map(async (vm, i) => await roamingSender(t, [vm.url], (await signIn(vm.url, `sender${i}`)).token, 'busy')))
  const sending = flood(senders, 150, 5)
  const joiners: Array<{ since: number, joiner: Joiner }> = []
  for (let i = 0; i < 12; i++) {
    await new Promise((resolve) => setTimeout(resolve, 60))
    const since = Math.max(0, ...senders.flatMap((sender) => sender.acked.map((entry) => entry.seq))) - 5
    const url = urls[i % urls.length] as string
    joiners.push({ since: Math.max(0, since), joiner: await join(t, url, (await signIn(url, `joiner${i}`)).token, 'busy', Math.max(0, since)) })
  }
  await sending
  const total = senders.reduce((sum, sender) => sum + sender.acked.length, 0)
  for (const [i, { since, joiner }] of joiners.entries()) {
    const deadline = Date.now() + 15_000
    while ((joiner.sequence.at(-1)?.seq ?? 0) < total && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    const seqs = joiner.sequence.map((message) => message.seq)
    t.same(seqs, Array.from({ length: total - since }, (_, k) => since + k + 1), `joiner ${i} (since ${since}): missed then live, every seq once, in order`)
  }
  for (const sender of senders) sender.close()
}

t.test('one VM on SQLite', async (t) => {
  const vm = await startCluster(t, { workers: 2, env: { MESSAGE_RATE_PER_S: '1000', MESSAGE_BURST: '1000' } })
  await joinWhileFlooding(t, [vm])
})

t.test('two VMs on PostgreSQL and Redis', async (t) => {
  const backends = await startBackends(t)
  const a = await startVm(t, backends, { workers: 1 })
  const b = await startVm(t, backends, { workers: 2 })
  await joinWhileFlooding(t, [a, b])
})
