import { compileTermList, moderate, type TermList } from '../moderation/matcher.js'
import { validateText } from './validate-text.js'

/**
 * The whole text pipeline of a `message:send`: Unicode validation, then moderation under the
 * configured policy. Pure: plain data in, plain data out, so it runs inline or in a pool thread.
 */

export type ModerationPolicy = 'reject' | 'mask' | 'off'

export type MessageTextResult =
  | { ok: true, text: string, masked: boolean }
  | { ok: false, code: 'E_VALIDATION' | 'E_MODERATED', message: string }

export interface TextChecker {
  (raw: string): MessageTextResult
  readonly termCount: number
}

/** Builds a checker from a term list's content and a policy. */
export function createTextChecker (termListContent: string, policy: ModerationPolicy): TextChecker {
  const list: TermList = compileTermList(policy === 'off' ? '' : termListContent)
  const check = (raw: string): MessageTextResult => {
    const valid = validateText(raw)
    if (!valid.ok) return { ok: false, code: 'E_VALIDATION', message: valid.message }
    if (policy === 'off') return { ok: true, text: valid.text, masked: false }
    const result = moderate(list, valid.text)
    if (!result.matched) return { ok: true, text: valid.text, masked: false }
    if (policy === 'reject') return { ok: false, code: 'E_MODERATED', message: 'message rejected by moderation' }
    return { ok: true, text: result.masked, masked: true }
  }
  return Object.assign(check, { termCount: list.size })
}
