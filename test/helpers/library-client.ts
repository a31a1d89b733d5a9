import { ChatClient, type ChatClientOptions, type ConnectionState, type Message, type RoomSynced, type SendStatus } from '../../src/client/index.js'
import type { ClusterHandle } from './cluster.js'
import { metric } from './client.js'

/**
 * The client library (src/client) signed in and connected, closed when the test ends, with a
 * record of what it told its app: messages in delivery order, connection states, syncs, sends.
 */

export interface RecordedClient {
  client: ChatClient
  messages: Message[]
  states: ConnectionState[]
  syncs: RoomSynced[]
  sends: SendStatus[]
}

interface Teardown { teardown: (fn: () => unknown) => void }

export async function startLibraryClient (t: Teardown, url: string, username: string, options: Partial<ChatClientOptions> = {}): Promise<RecordedClient> {
  const client = new ChatClient({ url, socket: { transports: ['websocket'] }, ...options })
  t.teardown(() => client.close())
  const recorded: RecordedClient = { client, messages: [], states: [], syncs: [], sends: [] }
  client.on('message', (message) => recorded.messages.push(message))
  client.on('state', (change) => recorded.states.push(change.state))
  client.on('synced', (event) => recorded.syncs.push(event))
  client.on('send', (status) => recorded.sends.push(status))
  await client.signIn(username)
  client.connect()
  return recorded
}

/** The id of the only worker holding exactly `count` connections (from /metrics). */
export async function workerWithConnections (opsUrl: string, count: number, workerIds: string[] = ['1', '2']): Promise<string> {
  const matching: string[] = []
  for (const worker of workerIds) {
    if (await metric(opsUrl, 'chat_connections', { worker }) === count) matching.push(worker)
  }
  if (matching.length !== 1) throw new Error(`expected one worker with ${count} connections, found ${matching.length}`)
  return matching[0] as string
}

/** The PID of a cluster worker by its id, from the primary's log. */
export function workerPid (cluster: ClusterHandle, workerId: string): number {
  const line = cluster.logs.findLast((entry) => entry.msg === 'worker ready' && entry.worker === workerId)
  if (line?.workerPid === undefined) throw new Error(`worker ${workerId} is not known to be up`)
  return line.workerPid
}
