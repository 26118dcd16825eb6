// The console's Server-Sent Events parser (src/console/sse.js), which reads the moderators' stream
// from fetch() since EventSource cannot send the API key in a header. Plain Node, no browser and
// no service: tests/browser/run.sh runs it first. Every stream is also fed in every possible
// two-way split and one character at a time, since the network cuts where it likes (between a CR
// and its LF, inside a field name, inside a multi-byte character).

import assert from 'node:assert/strict';
import { sseParser } from '../../src/console/sse.js';

/** The events `text` dispatches when fed in `chunks` (strings), and the parser after them. */
function parse(chunks) {
  const events = [];
  const parser = sseParser((event) => events.push(event));
  for (const chunk of chunks) parser.feed(chunk);
  return { events, lastEventId: parser.lastEventId, retry: parser.retry };
}

/** Bytes cut anywhere and decoded as the console does (a streaming TextDecoder). */
function parseBytes(bytes, cuts) {
  const decoder = new TextDecoder('utf-8');
  const chunks = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    chunks.push(decoder.decode(bytes.subarray(from, cut), { stream: true }));
    from = cut;
  }
  return parse(chunks);
}

/** `text` parsed whole, split at every point, and one character at a time: all alike. */
function check(text, expected, what) {
  const whole = parse([text]);
  assert.deepEqual(whole, expected, `${what}: whole`);
  for (let at = 0; at <= text.length; at += 1) {
    assert.deepEqual(parse([text.slice(0, at), text.slice(at)]), expected, `${what}: split at ${at}`);
  }
  assert.deepEqual(parse([...text]), expected, `${what}: a character at a time`);
  const bytes = new TextEncoder().encode(text);
  for (let at = 0; at <= bytes.length; at += 1) {
    assert.deepEqual(parseBytes(bytes, [at]), expected, `${what}: bytes split at ${at}`);
  }
}

const ev = (type, data, id = '') => ({ type, data, id });
let cases = 0;
function test(what, text, expected) {
  check(text, { retry: null, lastEventId: '', ...expected }, what);
  cases += 1;
}

// What the service sends: retry advice, a heartbeat, named events with ids, one without.
test(
  'the service’s stream',
  'retry: 3000\n\n: \n\nevent: counts\ndata: {"pending":3,"flagged":0,"spam":1}\n\n' +
    'event: queue.item\nid: 812345-77\ndata: {"id":"a","body":"Привіт 👋"}\n\n: \n\nevent: queue.settled\ndata: {"id":"a","status":"published"}\n\n',
  {
    retry: 3000,
    lastEventId: '812345-77',
    events: [
      ev('counts', '{"pending":3,"flagged":0,"spam":1}'),
      ev('queue.item', '{"id":"a","body":"Привіт 👋"}', '812345-77'),
      ev('queue.settled', '{"id":"a","status":"published"}', '812345-77'),
    ],
  },
);
test('CRLF line ends', 'event: a\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n', { events: [ev('a', '1'), ev('message', '2')] });
test('CR line ends', 'event: a\rdata: 1\r\rdata: 2\r\r', { events: [ev('a', '1'), ev('message', '2')] });
test('mixed line ends', 'data: 1\r\ndata: 2\rdata: 3\n\r\n', { events: [ev('message', '1\n2\n3')] });
test('data lines join with LF', 'data: one\ndata:\ndata: three\n\n', { events: [ev('message', 'one\n\nthree')] });
test('one space after the colon is dropped, not more', 'data:x\n\ndata:  y\n\ndata\n\n', {
  events: [ev('message', 'x'), ev('message', ' y'), ev('message', '')],
});
test('comments and unknown fields are skipped', ': hello\nfoo: bar\ndata: 1\n:\n\n', { events: [ev('message', '1')] });
test('no data, no event; the type does not carry over', 'event: a\n\nid: 7\n\ndata: 1\n\n', {
  lastEventId: '7',
  events: [ev('message', '1', '7')],
});
test('an id with NUL is ignored; an empty id resets', 'id: 1\ndata: a\n\nid: 2\0\ndata: b\n\nid\ndata: c\n\n', {
  events: [ev('message', 'a', '1'), ev('message', 'b', '1'), ev('message', 'c', '')],
});
test('retry takes digits only', 'retry: 10s\n\nretry: 2500\n\nretry: -1\n\n', { retry: 2500, events: [] });
test('a byte-order mark at the start only', '\uFEFFdata: 1\n\ndata: \uFEFF2\n\n', {
  events: [ev('message', '1'), ev('message', '\uFEFF2')],
});
test('an event cut off by the end of the stream is dropped', 'data: 1\n\nevent: b\ndata: 2\n', {
  events: [ev('message', '1')],
});
test('the id of an event cut off does not count', 'id: 1\ndata: 1\n\nid: 2\ndata: 2', {
  lastEventId: '1',
  events: [ev('message', '1', '1')],
});

console.log(`sse: ${cases} streams, each whole, split at every point and a character at a time: every check passed`);
