import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../src/config.js'
import { ROOT } from './helpers/cluster.js'

/** The README's configuration table keeps up with src/config.ts, and its commands exist. */

t.test('README documents every setting and the two commands', async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const settings = Object.keys(loadConfig({})).filter((key) => key !== 'DATA_DIR_ABSOLUTE')
  for (const key of settings) t.match(readme, new RegExp(`\`${key}\``), `${key} is in the README`)
  t.match(readme, /npm ci && npm start/)
  t.match(readme, /npm test/)
  const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts
  for (const [, name] of readme.matchAll(/npm run ([a-z:-]+)/g)) t.ok(scripts[name as string] !== undefined, `npm run ${name} exists`)
})
