// The moderators' live stream (GET /v1/moderation/live): queue counts and queue changes as they
// happen. The key goes in the Authorization header as on every call, never in a URL, so the
// stream is read with fetch() and parsed here (sse.js) rather than by EventSource, which cannot
// send headers. When the stream ends or fails, it is opened again after a pause that grows with
// each failure; the shell polls the counts meanwhile.

import { apiUrl, session } from './api.js';
import { sseParser } from './sse.js';

// The service sends a heartbeat every 20 s by default (MARGINALIA_LIVE_HEARTBEAT_SECS): a stream
// silent for this long is stuck (a proxy holding it, a network gone) and is opened again.
const SILENCE_MS = 90_000;
// Pauses before opening again: the server's `retry:` advice (3 s; a draining node advises 1–5 s at
// random), doubled on each failure in a row, up to a minute, and never sooner than a 429's
// Retry-After.
const DEFAULT_RETRY_MS = 3000;
const MAX_PAUSE_MS = 60_000;

/**
 * What the stream tells its owner.
 * @typedef {object} LiveHandlers
 * @property {(type: string, data: any) => void} onEvent an event other than `closing`
 * @property {(streaming: boolean) => void} onStreaming true once a stream is open, false when it ends
 * @property {(detail: string | null) => void} onRejected the key was revoked or refused (401);
 *   the stream is not opened again
 */

/**
 * Opens the stream for the tab's key and site, and keeps it open until `stop()`.
 * @param {LiveHandlers} handlers
 * @returns {{ stop: () => void }}
 */
export function openLive({ onEvent, onStreaming, onRejected }) {
  let stopped = false;
  let failures = 0;
  let retry = DEFAULT_RETRY_MS;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let controller = new AbortController();

  function stop() {
    stopped = true;
    clearTimeout(timer);
    controller.abort();
  }

  async function connect() {
    controller = new AbortController();
    const current = controller;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let silence;
    const heard = () => {
      clearTimeout(silence);
      silence = setTimeout(() => current.abort(), SILENCE_MS);
    };
    let open = false;
    let pause = 0; // at least this long before the next attempt (Retry-After)
    try {
      // Moderators' events are not resumed (no Last-Event-ID): the shell looks for what came
      // meanwhile when the stream is open again.
      const headers = { Accept: 'text/event-stream', Authorization: `Bearer ${session.key}` };
      heard();
      const response = await fetch(apiUrl('/v1/moderation/live'), {
        headers,
        credentials: 'omit',
        cache: 'no-store',
        signal: current.signal,
      });
      if (response.status === 401) {
        /** @type {{ detail?: string } | null} */
        const problem = await response.json().catch(() => null);
        stop();
        onRejected(problem?.detail ?? null);
        return;
      }
      if (response.status === 429) pause = Number(response.headers.get('Retry-After')) * 1000 || 0;
      if (!response.ok || !response.body) throw new Error(`the live stream answered ${response.status}`);
      open = true;
      failures = 0; // after a stream that opened, the next attempt waits only the advised pause
      onStreaming(true);
      const parser = sseParser((event) => {
        let data;
        try {
          data = JSON.parse(event.data);
        } catch {
          return; // not JSON: not an event of this contract
        }
        if (event.type === 'closing') {
          // `revoked`: the key is no good any more. `draining`: the node is stopping, and the
          // stream ends; another node takes the next one.
          if (data?.reason === 'revoked') {
            stop();
            onRejected(null);
          }
        } else {
          try {
            onEvent(event.type, data);
          } catch (error) {
            reportError(error); // a fault of the page's, not of the stream: it stays open
          }
        }
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done || stopped) break;
        heard();
        parser.feed(value);
        retry = parser.retry ?? retry;
      }
    } catch {
      // Refused, unreachable, or silent for too long: try again later.
    } finally {
      clearTimeout(silence);
    }
    if (stopped) return;
    if (open) onStreaming(false);
    failures += 1;
    const grown = Math.min(MAX_PAUSE_MS, retry * 2 ** (failures - 1));
    // Jitter: a newsroom's editors, all dropped by one restart, do not come back in step.
    timer = setTimeout(connect, Math.max(pause, grown * (0.75 + Math.random() / 2)));
  }

  connect();
  return { stop };
}
