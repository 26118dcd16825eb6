// A Server-Sent Events parser, as the HTML standard's "event stream interpretation" says, for a
// stream read with fetch(): the moderators' stream needs the API key in a header, which
// EventSource cannot send. Pure (no DOM), so tests/browser/sse.test.mjs runs it under Node.

/** One dispatched event: its type ("message" when the stream named none), its data (the data
 * lines joined by "\n") and the last event id seen so far (sent back as Last-Event-ID).
 * @typedef {{ type: string, data: string, id: string }} ServerEvent */

/**
 * A parser fed with decoded text in chunks of any size: a line, or a CRLF, may be split between
 * two chunks. Comments (heartbeats) and unknown fields are skipped; an event still incomplete when
 * the stream ends is dropped, as the standard says.
 * @param {(event: ServerEvent) => void} onEvent
 */
export function sseParser(onEvent) {
  let rest = '';
  let skipLF = false; // the chunk before ended with CR: a LF starting this one ends the same line
  let first = true; // a byte-order mark is skipped at the very start only
  /** @type {string[]} */
  let data = [];
  let type = '';
  let id = ''; // the last event id buffer: it takes effect when its event ends
  const parser = {
    /** The id of the last event that ended (its `id:` field, or an earlier one), '' when none. */
    lastEventId: '',
    /** The reconnection time the server advised (`retry:`), in ms; null until it did. @type {number | null} */
    retry: /** @type {number | null} */ (null),
    /** @param {string} chunk */
    feed(chunk) {
      if (first && chunk) {
        first = false;
        if (chunk.startsWith('\uFEFF')) chunk = chunk.slice(1);
      }
      if (skipLF && chunk.startsWith('\n')) chunk = chunk.slice(1);
      if (chunk) skipLF = chunk.endsWith('\r');
      const lines = (rest + chunk).split(/\r\n|\r|\n/);
      rest = /** @type {string} */ (lines.pop());
      for (const line of lines) parser.line(line);
    },
    /** One complete line (without its end). @param {string} line */
    line(line) {
      if (line === '') {
        parser.lastEventId = id;
        if (data.length) onEvent({ type: type || 'message', data: data.join('\n'), id: parser.lastEventId });
        data = [];
        type = '';
        return;
      }
      if (line.startsWith(':')) return;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') data.push(value);
      else if (field === 'event') type = value;
      else if (field === 'id' && !value.includes('\0')) id = value;
      else if (field === 'retry' && /^\d+$/.test(value)) parser.retry = Number(value);
    },
  };
  return parser;
}
