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

/** A trie over run letters (prefix terms walk it from a word's start, suffix terms from its end). */
interface TrieNode {
  next: Map<string, TrieNode>
  terms: CompiledTerm[]
}

/**
 * An Aho–Corasick automaton over run letters for infix terms: one pass over a word finds every
 * term key ending at each position, however many and however long the terms are.
 */
interface Automaton {
  next: Array<Map<string, number>>
  fail: number[]
  /** The nearest state on the failure chain that ends a term (or -1). */
  output: number[]
  terms: CompiledTerm[][]
}

export interface TermList {
  size: number
  exact: Map<string, CompiledTerm[]>
  prefix: TrieNode
  suffix: TrieNode
  infix: Automaton
  phrases: Map<string, CompiledPhrase[]>
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

const trieNode = (): TrieNode => ({ next: new Map(), terms: [] })

function trieInsert (root: TrieNode, letters: readonly string[], term: CompiledTerm): void {
  let node = root
  for (const letter of letters) {
    let child = node.next.get(letter)
    if (child === undefined) {
      child = trieNode()
      node.next.set(letter, child)
    }
    node = child
  }
  node.terms.push(term)
}

function buildAutomaton (terms: CompiledTerm[]): Automaton {
  const automaton: Automaton = { next: [new Map()], fail: [0], output: [-1], terms: [[]] }
  for (const term of terms) {
    let state = 0
    for (const run of term.runs) {
      let next = (automaton.next[state] as Map<string, number>).get(run.char)
      if (next === undefined) {
        next = automaton.next.length
        automaton.next.push(new Map())
        automaton.fail.push(0)
        automaton.output.push(-1)
        automaton.terms.push([])
        ;(automaton.next[state] as Map<string, number>).set(run.char, next)
      }
      state = next
    }
    ;(automaton.terms[state] as CompiledTerm[]).push(term)
  }
  // Breadth-first: failure links and output links.
  const queue: number[] = [...(automaton.next[0] as Map<string, number>).values()]
  for (let head = 0; head < queue.length; head++) {
    const state = queue[head] as number
    for (const [char, child] of automaton.next[state] as Map<string, number>) {
      let fallback = automaton.fail[state] as number
      while (fallback !== 0 && !(automaton.next[fallback] as Map<string, number>).has(char)) fallback = automaton.fail[fallback] as number
      const target = (automaton.next[fallback] as Map<string, number>).get(char)
      const fail = target !== undefined && target !== child ? target : 0
      automaton.fail[child] = fail
      automaton.output[child] = (automaton.terms[fail] as CompiledTerm[]).length > 0 ? fail : automaton.output[fail] as number
      queue.push(child)
    }
  }
  return automaton
}

/** Parses and compiles a term list file's content. Blank terms (nothing left after folding) are skipped. */
export function compileTermList (content: string): TermList {
  const exact = new Map<string, CompiledTerm[]>()
  const prefix = trieNode()
  const suffix = trieNode()
  const infix: CompiledTerm[] = []
  const phrases = new Map<string, CompiledPhrase[]>()
  let size = 0
  for (const rawLine of content.split(/\r?\n/)) {
    const line = rawLine.replace(/#.*$/, '').trim()
    if (line === '') continue
    const parts = line.split(/\s+/)
    if (parts.length > 1) {
      const words = parts.map((part) => ({ runs: toRuns(foldTerm(part.replace(/\*$/, ''))), prefix: part.endsWith('*') }))
      const first = words[0]
      if (first === undefined || words.some((word) => word.runs.length === 0)) continue
      push(phrases, keyOf(first.runs), { term: line, words })
      size++
      continue
    }
    const leading = line.startsWith('*')
    const trailing = line.endsWith('*') && line.length > 1
    const runs = toRuns(foldTerm(line.replace(/^\*|\*$/g, '')))
    if (runs.length === 0) continue
    const kind: Kind = leading && trailing ? 'infix' : trailing ? 'prefix' : leading ? 'suffix' : 'exact'
    const term: CompiledTerm = { term: line, kind, runs }
    const letters = runs.map((run) => run.char)
    if (kind === 'exact') push(exact, keyOf(runs), term)
    else if (kind === 'prefix') trieInsert(prefix, letters, term)
    else if (kind === 'suffix') trieInsert(suffix, letters.reverse(), term)
    else infix.push(term)
    size++
  }
  return { size, exact, prefix, suffix, infix: buildAutomaton(infix), phrases }
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
    const hit = (term: CompiledTerm, offset: number, from = 0, to = word.length): void => {
      if (!fits(term.runs, runs, offset)) return
      terms.add(term.term)
      markWord(word, from, to)
    }
    // Prefix terms: walk the trie from the word's first run.
    let node: TrieNode | undefined = list.prefix
    for (let i = 0; node !== undefined && i < runs.length; i++) {
      node = node.next.get((runs[i] as WordRun).char)
      for (const term of node?.terms ?? []) hit(term, 0)
    }
    // Suffix terms: walk the reversed trie from the word's last run.
    node = list.suffix
    for (let i = runs.length - 1; node !== undefined && i >= 0; i--) {
      node = node.next.get((runs[i] as WordRun).char)
      for (const term of node?.terms ?? []) hit(term, i)
    }
    // Infix terms: one Aho–Corasick pass over the word's runs.
    const automaton = list.infix
    let state = 0
    for (let i = 0; i < runs.length; i++) {
      const char = (runs[i] as WordRun).char
      while (state !== 0 && !(automaton.next[state] as Map<string, number>).has(char)) state = automaton.fail[state] as number
      state = (automaton.next[state] as Map<string, number>).get(char) ?? 0
      for (let found = (automaton.terms[state] as CompiledTerm[]).length > 0 ? state : automaton.output[state] as number; found > 0; found = automaton.output[found] as number) {
        for (const term of automaton.terms[found] as CompiledTerm[]) {
          const start = i - term.runs.length + 1
          hit(term, start, (runs[start] as WordRun).from, (runs[i] as WordRun).to)
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
