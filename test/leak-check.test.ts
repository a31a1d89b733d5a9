import t from 'tap'
import { runLeakCheck } from '../scripts/leak-check.js'

/**
 * A small run of scripts/leak-check.ts: cycles of connect → join → type → send → disconnect.
 * After every cycle no connection is left and, with a GC forced in the workers, their heap stays
 * at the level of the first cycle (a leak of even a few hundred bytes per connection would add
 * hundreds of KB per cycle here).
 */

t.test('heap returns to its baseline after connect/disconnect cycles', async (t) => {
  const result = await runLeakCheck({ cycles: 5, clients: 300, roomSize: 20 })
  t.equal(result.cycles.length, 5)
  for (const cycle of result.cycles) {
    t.ok(cycle.workers.length === 2 && cycle.workers.every((worker) => worker.gcForced && worker.connections === 0), `cycle ${cycle.cycle}: no connection left, GC forced`)
  }
  const baseline = result.cycles[1]?.heapUsed ?? 0
  const last = result.cycles[result.cycles.length - 1]?.heapUsed ?? 0
  t.ok(last - baseline < 1.5 * 2 ** 20, `heap after cycle 5 within 1.5 MB of cycle 2 (grew ${((last - baseline) / 1024).toFixed(0)} KB)`)
})
