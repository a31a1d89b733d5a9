import { foldTerm, foldWords, type FoldedWord } from './fold.js'

/**
 * A compiled term list and the matcher that runs it over message text in time linear in the text
 * (no regular expressions, nothing to backtrack).
 *
 * List syntax, one term a line, `#` starts a comment:
 *   word       the whole word only ("ass" does not match "class" or "assume")
 *   word*      words that start with it ("fuck*" matches "fucking")
 *   *word      words that end with it
 *   *word*     anywhere inside a word
 *   two words  a phrase: consecutive whole words (the last may end with *)
 * Letters repeated in the text still match ("fuuuck"), but a term's own double letters must be
 * there ("ass" does not match "as").
 */

interface Run { char: string, count: number }
type Kind = 'exact' | 'prefix' | 'suffix' | 'infix'

interface CompiledTerm {
  term: string
  kind: Kind
  runs: Run[]
}

interface CompiledPhrase {
  term: string
  words: Array<{ runs: Run[], prefix: boolean }>
}

export interface TermList {
  size: number
  exact: Map<string, CompiledTerm[]>
  prefix: Map<string, CompiledTerm[]>
  suffix: Map<string, CompiledTerm[]>
  infix: Map<string, CompiledTerm[]>
  phrases: Map<string, CompiledPhrase[]>
  maxInfixRuns: number
}

export interface ModerationResult {
  matched: boolean
  terms: string[]
  /** The text with every matched span replaced by '*' per code point. */
  masked: string
}

function toRuns (letters: string): Run[] {
  const runs: Run[] = []
  for (const char of letters) {
    const last = runs[runs.length - 1]
    if (last !== undefined && last.char === char) last.count++
    else runs.push({ char, count: 1 })
  }
  return runs
}

const keyOf = (runs: Run[]): string => runs.map((run) => run.char).join('')

function push<T> (map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key)
  if (list === undefined) map.set(key, [value])
  else list.push(value)
}

/** Parses and compiles a term list file's content. Blank terms (nothing left after folding) are skipped. */
export function compileTermList (content: string): TermList {
  const list: TermList = {
    size: 0,
    exact: new Map(),
    prefix: new Map(),
    suffix: new Map(),
    infix: new Map(),
    phrases: new Map(),
    maxInfixRuns: 0
  }
  for (const rawLine of content.split(/\r?\n/)) {
    const line = rawLine.replace(/#.*$/, '').trim()
    if (line === '') continue
    const parts = line.split(/\s+/)
    if (parts.length > 1) {
      const words = parts.map((part) => ({ runs: toRuns(foldTerm(part.replace(/\*$/, ''))), prefix: part.endsWith('*') }))
      const first = words[0]
      if (first === undefined || words.some((word) => word.runs.length === 0)) continue
      push(list.phrases, keyOf(first.runs), { term: line, words })
      list.size++
      continue
    }
    const leading = line.startsWith('*')
    const trailing = line.endsWith('*') && line.length > 1
    const runs = toRuns(foldTerm(line.replace(/^\*|\*$/g, '')))
    if (runs.length === 0) continue
    const kind: Kind = leading && trailing ? 'infix' : trailing ? 'prefix' : leading ? 'suffix' : 'exact'
    push(list[kind], keyOf(runs), { term: line, kind, runs })
    if (kind === 'infix') list.maxInfixRuns = Math.max(list.maxInfixRuns, runs.length)
    list.size++
  }
  return list
}

/** Word runs with the index range of folded chars each covers. */
interface WordRun extends Run { from: number, to: number }

function wordRuns (word: FoldedWord): WordRun[] {
  const runs: WordRun[] = []
  for (let i = 0; i < word.length; i++) {
    const char = (word[i] as { char: string }).char
    const last = runs[runs.length - 1]
    if (last !== undefined && last.char === char) {
      last.count++
      last.to = i + 1
    } else {
      runs.push({ char, count: 1, from: i, to: i + 1 })
    }
  }
  return runs
}

/** Does term `runs` fit the word's runs starting at `offset`? Text runs may be longer than the term's. */
function fits (runs: Run[], text: WordRun[], offset: number): boolean {
  for (let i = 0; i < runs.length; i++) {
    const termRun = runs[i] as Run
    const textRun = text[offset + i]
    if (textRun === undefined || textRun.char !== termRun.char || textRun.count < termRun.count) return false
  }
  return true
}

interface Span { start: number, end: number }

/** Runs the list over text: which terms matched and the masked text. */
export function moderate (list: TermList, text: string): ModerationResult {
  const terms = new Set<string>()
  const spans: Span[] = []
  if (list.size === 0) return { matched: false, terms: [], masked: text }
  const words = foldWords(text)
  const allRuns = words.map(wordRuns)
  const keys = allRuns.map(keyOf)

  const markWord = (word: FoldedWord, from = 0, to = word.length): void => {
    spans.push({ start: (word[from] as { start: number }).start, end: (word[to - 1] as { end: number }).end })
  }

  for (let w = 0; w < words.length; w++) {
    const word = words[w] as FoldedWord
    const runs = allRuns[w] as WordRun[]
    const key = keys[w] as string

    for (const term of list.exact.get(key) ?? []) {
      if (fits(term.runs, runs, 0)) { terms.add(term.term); markWord(word) }
    }
    for (let length = 1; length <= runs.length; length++) {
      for (const term of list.prefix.get(key.slice(0, length)) ?? []) {
        if (fits(term.runs, runs, 0)) { terms.add(term.term); markWord(word) }
      }
      for (const term of list.suffix.get(key.slice(runs.length - length)) ?? []) {
        if (fits(term.runs, runs, runs.length - length)) { terms.add(term.term); markWord(word) }
      }
    }
    if (list.maxInfixRuns > 0) {
      for (let start = 0; start < runs.length; start++) {
        const limit = Math.min(runs.length - start, list.maxInfixRuns)
        for (let length = 1; length <= limit; length++) {
          for (const term of list.infix.get(key.slice(start, start + length)) ?? []) {
            if (fits(term.runs, runs, start)) {
              terms.add(term.term)
              markWord(word, (runs[start] as WordRun).from, (runs[start + length - 1] as WordRun).to)
            }
          }
        }
      }
    }
    for (const phrase of list.phrases.get(key) ?? []) {
      if (w + phrase.words.length > words.length) continue
      const ok = phrase.words.every((part, i) => {
        const textRuns = allRuns[w + i] as WordRun[]
        return fits(part.runs, textRuns, 0) && (part.prefix || part.runs.length === textRuns.length)
      })
      if (ok) {
        terms.add(phrase.term)
        spans.push({ start: (word[0] as { start: number }).start, end: ((words[w + phrase.words.length - 1] as FoldedWord).at(-1) as { end: number }).end })
      }
    }
  }
  if (terms.size === 0) return { matched: false, terms: [], masked: text }
  return { matched: true, terms: [...terms], masked: mask(text, spans) }
}

function mask (text: string, spans: Span[]): string {
  spans.sort((a, b) => a.start - b.start)
  let out = ''
  let index = 0
  let spanIndex = 0
  for (const symbol of text) {
    while (spanIndex < spans.length && (spans[spanIndex] as Span).end <= index) spanIndex++
    const span = spans[spanIndex]
    out += span !== undefined && span.start <= index && index < span.end ? '*' : symbol
    index += symbol.length
  }
  return out
}
