/**
 * Folding of text into a moderation skeleton: what a term list is matched against. Folding
 * survives the usual evasions: case, diacritics (NFKD, marks dropped), compatibility forms
 * (fullwidth, ligatures), common Cyrillic/Greek look-alikes, leetspeak digits and symbols,
 * zero-width and other format characters (dropped, not separators), and letters spaced out
 * one at a time ("f u c k", "f.u.c.k").
 */

const LEET: Readonly<Record<string, string>> = {
  0: 'o',
  1: 'i',
  2: 'z',
  3: 'e',
  4: 'a',
  5: 's',
  6: 'g',
  7: 't',
  8: 'b',
  9: 'g',
  '@': 'a',
  $: 's',
  '!': 'i',
  '|': 'l',
  '+': 't',
  '€': 'e',
  '£': 'l',
  '¢': 'c',
  '¡': 'i'
}

// Look-alikes that NFKD leaves alone: Cyrillic and Greek letters drawn like Latin ones.
const CONFUSABLE: Readonly<Record<string, string>> = {
  а: 'a', в: 'b', е: 'e', ё: 'e', к: 'k', м: 'm', н: 'h', о: 'o', р: 'p', с: 'c', т: 't', у: 'y', х: 'x',
  і: 'i', ї: 'i', ј: 'j', ѕ: 's', ԁ: 'd', ԛ: 'q', ԝ: 'w', ɡ: 'g', ı: 'i',
  α: 'a', β: 'b', ε: 'e', η: 'n', ι: 'i', κ: 'k', ν: 'v', ο: 'o', ρ: 'p', τ: 't', υ: 'u', χ: 'x', ω: 'w'
}

const MARK = /\p{M}/u
const FORMAT = /\p{Cf}/u
const LETTER = /\p{L}/u

/** One folded letter and the span of original UTF-16 units it came from. */
export interface FoldedChar {
  char: string
  start: number
  end: number
}

/** A word of the skeleton: folded letters with no separator between them. */
export type FoldedWord = FoldedChar[]

const foldCache = new Map<number, string>()

/** Folds one code point to zero or more skeleton characters; '' drops it, ' ' separates. */
function foldCodePoint (codePoint: number): string {
  const cached = foldCache.get(codePoint)
  if (cached !== undefined) return cached
  const original = String.fromCodePoint(codePoint)
  let folded: string
  if (FORMAT.test(original) || codePoint === 0x034F) {
    folded = '' // zero-width space/joiners, soft hyphen, BOM, bidi marks, grapheme joiner
  } else {
    let out = ''
    for (const part of original.normalize('NFKD').toLowerCase()) {
      if (MARK.test(part)) continue
      const mapped = LEET[part] ?? CONFUSABLE[part] ?? part
      out += LETTER.test(mapped) ? mapped : ' '
    }
    folded = out
  }
  if (foldCache.size < 65_536) foldCache.set(codePoint, folded)
  return folded
}

/**
 * Splits text into folded words. A run of single letters separated by one separator each is
 * joined into one word, so spaced-out spelling ("f u c k", "f.u.c.k") is matched too.
 */
export function foldWords (text: string): FoldedWord[] {
  const words: FoldedWord[] = []
  let current: FoldedWord = []
  let separators = 0
  let previousIsSpaced = false // the last word so far is built only of single letters
  const flush = (): void => {
    if (current.length === 0) return
    const previous = words[words.length - 1]
    if (current.length === 1 && previous !== undefined && previousIsSpaced && separators === 1) {
      previous.push(current[0] as FoldedChar)
    } else {
      words.push(current)
      previousIsSpaced = current.length === 1
    }
    current = []
    separators = 0
  }
  let index = 0
  for (const symbol of text) {
    const start = index
    index += symbol.length
    for (const char of foldCodePoint(symbol.codePointAt(0) as number)) {
      if (char === ' ') {
        flush()
        separators++
      } else {
        current.push({ char, start, end: index })
      }
    }
  }
  flush()
  return words
}

/** Folds a term of the list the same way as text, to its letters only. */
export function foldTerm (term: string): string {
  let out = ''
  for (const symbol of term) {
    for (const char of foldCodePoint(symbol.codePointAt(0) as number)) {
      if (char !== ' ') out += char
    }
  }
  return out
}
