import { readFileSync } from 'node:fs'
import t from 'tap'
import { compileTermList, moderate } from '../src/moderation/matcher.js'
import { createTextChecker } from '../src/text/check-message.js'
import { ROOT } from './helpers/cluster.js'

/** The term matcher: evasions it must see through, and words it must leave alone. */

const defaults = readFileSync(`${ROOT}/workers/moderation-terms.txt`, 'utf8')
const list = compileTermList(defaults)

t.test('sees through common evasions', async (t) => {
  const hits = [
    'FUCK', 'Fuck you', 'fuuuuck', 'f u c k', 'f.u.c.k', 'f-u-c-k', 'fück', 'ｆｕｃｋ', 'fu\u200Bck', 'fu\u00ADck',
    'sh!t', '$hit', 'sh1t', 'shiiit', 'ѕhit', 'a$$hole', 'ASSHOLES', 'b1tch', 'motherfucker', 'kys', 'kill yourself', 'kill   yourself'
  ]
  for (const text of hits) t.ok(moderate(list, text).matched, `matches ${JSON.stringify(text)}`)
})

t.test('leaves ordinary words alone', async (t) => {
  const clean = ['class', 'assume', 'as', 'Scunthorpe', 'cocktail', 'shitake', 'therapist', 'pissarro', 'hello world', 'a b c d', 'skill yourself up', '']
  for (const text of clean) t.notOk(moderate(list, text).matched, `no match in ${JSON.stringify(text)}`)
})

t.test('mask keeps the rest of the text and the length in code points', async (t) => {
  t.equal(moderate(list, 'well f.u.c.k that').masked, 'well ******* that')
  t.equal(moderate(list, 'so 💩 shit 💩').masked, 'so 💩 **** 💩')
  t.equal(moderate(list, 'fu\u200Bck').masked, '*****', 'the zero-width character inside the word is masked too')
})

t.test('term list syntax: prefix, suffix, infix, phrases, comments', async (t) => {
  const custom = compileTermList('# comment\nspam*\n*ware\n*xyz*\nbuy now\n\n  \nexact\n')
  t.equal(custom.size, 5)
  t.ok(moderate(custom, 'spammer').matched)
  t.ok(moderate(custom, 'malware').matched)
  t.ok(moderate(custom, 'abxyzcd').matched)
  t.ok(moderate(custom, 'please BUY NOW').matched)
  t.notOk(moderate(custom, 'buy later now').matched)
  t.ok(moderate(custom, 'exact').matched)
  t.notOk(moderate(custom, 'exactly').matched)
})

t.test('policies through the text checker', async (t) => {
  t.match(createTextChecker(defaults, 'reject')('oh shit'), { ok: false, code: 'E_MODERATED' })
  t.same(createTextChecker(defaults, 'mask')('oh shit'), { ok: true, text: 'oh ****', masked: true })
  t.same(createTextChecker(defaults, 'off')('oh shit'), { ok: true, text: 'oh shit', masked: false })
  t.match(createTextChecker(defaults, 'mask')('x\u0000'), { ok: false, code: 'E_VALIDATION' }, 'validation runs before moderation')
})

t.test('worst-case inputs stay linear and correct', async (t) => {
  const big = compileTermList(Array.from({ length: 5000 }, (_, i) => `*w${i.toString(36)}q*`).join('\n'))
  const inputs = ['a '.repeat(1000), 'ab'.repeat(1000), 'a'.repeat(2000), '\u200B'.repeat(1000) + 'x', 'f u c k '.repeat(250)]
  for (const text of inputs) {
    const result = moderate(big, text)
    t.equal(result.matched, false)
    t.equal(moderate(list, text).matched, text.startsWith('f u c k'))
  }
})
