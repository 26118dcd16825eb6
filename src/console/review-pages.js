// Reading a review list's pages from the queue: the first page (and, for a link to one review,
// the pages up to it), the next page on request, and new arrivals while the whole list is shown,
// from the moderators' live stream or else by polling.

import { api, isAbort } from './api.js';
import { announce } from './dom.js';
import { errorText, t } from './i18n.js';
import { add, clear, removeCards, rerender, setCurrent, toggle, updateStatus } from './review-list.js';
import { toast } from './toast.js';

/** @typedef {import('./review-list.js').ReviewList} ReviewList */
/** @typedef {import('./review-list.js').ReviewPage} ReviewPage */
/** @typedef {import('./api.js').Review} Review */

const PAGE_SIZE = 50;
// A link to one review reads up to this many pages of its list to find it (1,000 reviews).
const SEEK_PAGES = 20;

/** A page of the list's queue from `cursor` (from the start without one), or the whole of a list
 * that has a source of its own.
 * @param {ReviewList} list @param {string | null} [cursor] @returns {Promise<ReviewPage>} */
const page = (list, cursor) =>
  list.source
    ? list.source(list.controller.signal)
    : api('/v1/moderation/queue', {
        query: cursor === undefined ? { ...list.query, limit: PAGE_SIZE } : { ...list.query, limit: PAGE_SIZE, cursor },
        signal: list.controller.signal,
      });

/** Loads the list from its start. `keep` is the review to make current again; with `seek`, the
 * pages are read until it is found (a link to one review), at most `SEEK_PAGES` of them.
 * @param {ReviewList} list @param {{ keep?: string | null, seek?: boolean }} [options] */
export async function load(list, { keep, seek = false } = {}) {
  list.controller.abort();
  const controller = (list.controller = new AbortController());
  list.loading = true;
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
  } finally {
    if (list.controller === controller) list.loading = false;
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

// --- the live stream ---------------------------------------------------------------------------

/** Whether a review belongs in the list: its status and the list's filters.
 * @param {ReviewList} list @param {Review} review */
function matches({ query }, review) {
  const language = query.language?.toLowerCase();
  return (
    (!query.status || review.status === query.status) &&
    (query.flagged !== 'true' || review.flag_count > 0) &&
    (!query.article_id || review.article_id === query.article_id) &&
    (!query.reason || review.reasons.includes(query.reason)) &&
    (!language || review.language?.toLowerCase() === language)
  );
}

/** Whether the editor is writing in a review's card (its reply): drawing it again would lose that.
 * @param {ReviewList} list @param {string} id */
const editing = (list, id) => Boolean(list.cards.get(id)?.querySelector('textarea, input[type=text]'));

/** An event of the moderators' stream, for this list. Nothing moves under the editor: a new review
 * is added at the end (the queue is oldest first), where it shifts nothing above it; focus, the
 * current card and the selection stay.
 * @param {ReviewList} list @param {string} type @param {any} data */
export function live(list, type, data) {
  if (list.loading || !data?.id || list.acting.has(data.id)) return;
  const known = list.reviews.get(data.id);
  if (type === 'queue.settled' && known) settle(list, { ...known, status: data.status });
  else if (type === 'queue.item') arrive(list, data);
}

/** `queue.item`: a review entered a queue or changed there. @param {ReviewList} list @param {Review} review */
function arrive(list, review) {
  if (!matches(list, review)) return settle(list, review);
  if (list.reviews.has(review.id)) {
    if (!editing(list, review.id)) rerender(list, review);
    return;
  }
  // Before the last page is shown, it comes with the pages, in its place.
  if (list.nextCursor) return;
  add(list, [review]);
  list.cards.get(review.id)?.classList.add('card--new');
  announce(t('arrived', 1));
}

/** A review of the list now elsewhere (`queue.settled`, or a `queue.item` of another queue). The
 * card the editor is on stays, showing its new status, so that focus and place are kept; any
 * other card leaves. @param {ReviewList} list @param {Review} review */
function settle(list, review) {
  const { id } = review;
  const card = list.cards.get(id);
  if (!card) return;
  if (id === list.current || card.contains(document.activeElement)) {
    toggle(list, id, false);
    if (!editing(list, id)) rerender(list, review);
    announce(t('settledCurrent', { status: t(`status.${review.status}`) }));
    return;
  }
  const selected = list.selected.has(id);
  removeCards(list, [id]);
  if (selected) announce(t('settledAway', 1));
}
