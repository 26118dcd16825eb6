// Reading a review list's pages from the queue: the first page (and, for a link to one review,
// the pages up to it), the next page on request, and new arrivals while the whole list is shown.

import { api, isAbort } from './api.js';
import { announce } from './dom.js';
import { errorText, t } from './i18n.js';
import { add, clear, setCurrent, updateStatus } from './review-list.js';
import { toast } from './toast.js';

/** @typedef {import('./review-list.js').ReviewList} ReviewList */
/** @typedef {import('./review-list.js').ReviewPage} ReviewPage */

const PAGE_SIZE = 50;
// A link to one review reads up to this many pages of its list to find it (1,000 reviews).
const SEEK_PAGES = 20;

/** A page of the list's queue from `cursor` (from the start without one).
 * @param {ReviewList} list @param {string | null} [cursor] @returns {Promise<ReviewPage>} */
const page = (list, cursor) =>
  api('/v1/moderation/queue', {
    query: cursor === undefined ? { ...list.query, limit: PAGE_SIZE } : { ...list.query, limit: PAGE_SIZE, cursor },
    signal: list.controller.signal,
  });

/** Loads the list from its start. `keep` is the review to make current again; with `seek`, the
 * pages are read until it is found (a link to one review), at most `SEEK_PAGES` of them.
 * @param {ReviewList} list @param {{ keep?: string | null, seek?: boolean }} [options] */
export async function load(list, { keep, seek = false } = {}) {
  list.controller.abort();
  list.controller = new AbortController();
  const keepId = keep ?? list.current;
  clear(list);
  updateStatus(list, t('loading'));
  try {
    const first = await page(list);
    list.nextCursor = first.next_cursor;
    add(list, first.items);
    for (let pages = 1; seek && keepId && !list.cards.has(keepId) && list.nextCursor && pages < SEEK_PAGES; pages += 1) {
      const next = await page(list, list.nextCursor);
      list.nextCursor = next.next_cursor;
      add(list, next.items);
    }
    if (keepId && list.cards.has(keepId)) {
      setCurrent(list, keepId, seek || document.activeElement === document.body || list.node.contains(document.activeElement));
    } else if (seek && keepId) toast(t('reviewNotFound', { id: keepId }), { error: true });
  } catch (error) {
    if (isAbort(error)) return;
    updateStatus(list, errorText(error));
  }
}

/** Shows the next page, and makes its first new review current. @param {ReviewList} list */
export async function loadMore(list) {
  if (!list.nextCursor) return;
  const { more } = list;
  more.disabled = true;
  try {
    const next = await page(list, list.nextCursor);
    const first = next.items.find((item) => !list.reviews.has(item.id));
    list.nextCursor = next.next_cursor;
    add(list, next.items);
    announce(t('shownMore', next.items.length));
    if (first) setCurrent(list, first.id);
  } catch (error) {
    if (!isAbort(error)) toast(errorText(error), { error: true });
  } finally {
    more.disabled = false;
    if (!more.hidden && !list.node.contains(document.activeElement)) more.focus();
  }
}

/** Looks for reviews newer than the newest shown and appends them (the queue is oldest first, so
 * they belong at the end). Only once the whole queue is shown; otherwise they come with paging.
 * @param {ReviewList} list */
export async function pollNew(list) {
  if (list.nextCursor) return;
  try {
    const next = await page(list, list.lastId || undefined);
    const fresh = next.items.filter((item) => !list.reviews.has(item.id));
    if (!fresh.length) return;
    list.nextCursor = next.next_cursor;
    add(list, fresh);
    for (const item of fresh) list.cards.get(item.id)?.classList.add('card--new');
    announce(t('arrived', fresh.length));
  } catch {
    // Polling again soon is the remedy; the shell shows outages.
  }
}
