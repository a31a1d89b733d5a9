import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startCluster } from './helpers/cluster.js'
import { signIn } from './helpers/client.js'

/** The store is the owner's alone: a data directory created 0700, database files 0600. */

t.test('a fresh data directory and its database files are private', async (t) => {
  const parent = mkdtempSync(join(tmpdir(), 'chat-perm-'))
  t.teardown(() => rmSync(parent, { recursive: true, force: true }))
  const dataDir = join(parent, 'store')
  const cluster = await startCluster(t, { dataDir })
  await signIn(cluster.url, 'writer') // something written through the WAL
  t.equal(statSync(dataDir).mode & 0o777, 0o700, 'directory 0700')
  for (const name of ['chat.sqlite', 'chat.sqlite-wal', 'chat.sqlite-shm']) {
    t.equal(statSync(join(dataDir, name)).mode & 0o777, 0o600, `${name} 0600`)
  }
})
