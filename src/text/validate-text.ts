import { TEXT_MAX_CODE_POINTS, TEXT_MIN_CODE_POINTS } from '../protocol/limits.js'

/**
 * Unicode-level rules for message text (PROTOCOL.md): NFC normalization, JavaScript trim, 1–2000
 * code points, no control characters other than tab and line breaks, no bidi overrides or
 * isolates (they reorder what other readers see), no lone surrogates.
 */

export type TextCheck =
  | { ok: true, text: string, codePoints: number }
  | { ok: false, message: string }

// C0 controls except \t \n \r, DEL, and C1 controls.
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/
// LRE, RLE, PDF, LRO, RLO and the isolates LRI, RLI, FSI, PDI.
const BIDI_CONTROL = /[\u202A-\u202E\u2066-\u2069]/

/** Counts code points without allocating (a surrogate pair is one). */
export function countCodePoints (text: string): number {
  let count = 0
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    if (unit >= 0xD800 && unit <= 0xDBFF && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xDC00 && next <= 0xDFFF) i++
    }
    count++
  }
  return count
}

/** Normalizes and checks a message text; the returned text is what is stored and broadcast. */
export function validateText (raw: string): TextCheck {
  if (!raw.isWellFormed()) return { ok: false, message: 'text must not contain lone surrogates' }
  const text = raw.normalize('NFC').trim()
  const codePoints = countCodePoints(text)
  if (codePoints < TEXT_MIN_CODE_POINTS) return { ok: false, message: 'text must not be empty' }
  if (codePoints > TEXT_MAX_CODE_POINTS) return { ok: false, message: `text must be at most ${TEXT_MAX_CODE_POINTS} characters` }
  if (CONTROL.test(text)) return { ok: false, message: 'text must not contain control characters' }
  if (BIDI_CONTROL.test(text)) return { ok: false, message: 'text must not contain bidirectional override characters' }
  return { ok: true, text, codePoints }
}
