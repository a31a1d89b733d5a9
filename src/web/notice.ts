/** One status line (role="status"): a message, or a message with a live countdown in seconds. */
export class Notice {
  readonly #element: HTMLElement
  #timer: ReturnType<typeof setInterval> | undefined

  constructor (element: HTMLElement) {
    this.#element = element
  }

  show (text: string): void {
    this.#stop()
    this.#element.textContent = text
  }

  /** Shows `format(secondsLeft)` each second until `ms` have passed, then clears. */
  countdown (ms: number, format: (seconds: number) => string): void {
    this.#stop()
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
    this.#element.textContent = ''
  }

  #stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}
