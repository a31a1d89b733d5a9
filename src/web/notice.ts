/**
 * One status line (role="status"): a message, or a message with a live countdown in seconds.
 * Problems show in the error colour; `info` is for news that went well (an invitation sent).
 */
export class Notice {
  readonly #element: HTMLElement
  #timer: ReturnType<typeof setInterval> | undefined

  constructor (element: HTMLElement) {
    this.#element = element
  }

  show (text: string): void {
    this.#stop()
    this.#element.classList.remove('info')
    this.#element.textContent = text
  }

  info (text: string): void {
    this.show(text)
    this.#element.classList.add('info')
  }

  /** Shows `format(secondsLeft)` each second until `ms` have passed, then clears. */
  countdown (ms: number, format: (seconds: number) => string): void {
    this.#stop()
    this.#element.classList.remove('info')
    const endsAt = Date.now() + ms
    const tick = (): void => {
      const seconds = Math.ceil((endsAt - Date.now()) / 1000)
      if (seconds <= 0) this.clear()
      else this.#element.textContent = format(seconds)
    }
    tick()
    this.#timer = setInterval(tick, 250)
  }

  clear (): void {
    this.#stop()
    this.#element.classList.remove('info')
    this.#element.textContent = ''
  }

  #stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}
