/** What the page exposes as `window.pvDemo` for automation (the e2e test) and the devtools console. */
export interface PvDemoHandle {
  /** The terminal's whole buffer (scrollback included) as text, wrapped rows joined. */
  terminalText(): string;
  /** Number of the current boot (1 for the first). */
  readonly run: number;
}

declare global {
  interface Window {
    pvDemo?: PvDemoHandle;
  }
}
