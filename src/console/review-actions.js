// What a moderator does to the reviews of a list: moderation actions (with confirmation for
// deletion, and undo), and the newsroom's reply. Every change is a call to the public API; the
// list then shows what the API answered, not what it hoped for.

import { allowedActions, ApiError, inverseAction, moderate, undoable } from './api.js';
import { confirmDialog } from './dom.js';
import { errorText, t } from './i18n.js';
import { removeReply, replyForm } from './reply.js';
import { removeCards, rerender, setCurrent } from './review-list.js';
import { load } from './review-pages.js';
import { toast } from './toast.js';

/** @typedef {import('./review-list.js').ReviewList} ReviewList */
/** @typedef {import('./api.js').Review} Review */
/** @typedef {import('./api.js').Action} Action */
/** @typedef {import('./api.js').Change} Change */

/** Applies a moderation action. The cards then show the new status, or leave the list when it
 * no longer matches the list's status; focus moves to the next card.
 * @param {ReviewList} list @param {Action} action @param {string[]} ids */
export async function act(list, action, ids) {
  ids = ids.filter((id) => {
    const review = list.reviews.get(id);
    return review !== undefined && allowedActions(review).includes(action);
  });
  if (!ids.length) {
    toast(t('notAllowed', { action: t(`action.${action}`) }), { error: true });
    return;
  }
  if (action === 'delete' && !(await confirmDeletion(ids.length))) return;
  let result;
  for (const id of ids) list.acting.add(id);
  try {
    result = await moderate(action, ids);
  } catch (error) {
    toast(errorText(error), { error: true });
    if (error instanceof ApiError && [404, 409].includes(error.status)) load(list);
    return;
  } finally {
    for (const id of ids) list.acting.delete(id);
  }
  applyChanges(list, result.changed);
  list.onChanged();
  const { changed } = result;
  const undo = !undoable(action) || !changed.length ? null : () => undoChanges(list, changed);
  const message = changed.length
    ? t(`done.${action}`, changed.length) + (undoable(action) ? '' : '. ' + t(action === 'delete' ? 'final' : 'flagsFinal'))
    : t('unchanged', result.unchanged);
  toast(message, { undo });
}

/** @param {number} count @returns {Promise<boolean>} */
const confirmDeletion = (count) =>
  confirmDialog({
    title: t('deleteTitle', count),
    text: t('deleteText'),
    confirm: t('action.delete'),
    cancel: t('cancel'),
    danger: true,
  });

/** Puts the changed reviews back where they were, one call per inverse action, and reloads the
 * list around the first of them. @param {ReviewList} list @param {Change[]} changed */
async function undoChanges(list, changed) {
  /** @type {Map<Action, string[]>} */
  const groups = new Map();
  for (const change of changed) {
    const inverse = inverseAction(change.from, change.to);
    if (!inverse) continue;
    const group = groups.get(inverse) ?? [];
    group.push(change.id);
    groups.set(inverse, group);
  }
  for (const [inverse, group] of groups) await moderate(inverse, group, 'undo');
  await load(list, { keep: changed[0].id });
  list.onChanged();
}

/** Shows the API's changes: a card whose review still belongs is drawn again; the others leave,
 * and focus moves to the card after them. @param {ReviewList} list @param {Change[]} changed */
function applyChanges(list, changed) {
  /** @type {string[]} */
  const leaving = [];
  for (const { id, to } of changed) {
    const review = list.reviews.get(id);
    if (!review) continue;
    // The API clears the flags when it publishes a review or they are dismissed.
    const updated = to === 'published' ? { ...review, status: to, flag_count: 0, flags: [] } : { ...review, status: to };
    if (belongs(list, updated)) rerender(list, updated);
    else leaving.push(id);
  }
  if (!leaving.length) return;
  const focusWasInside = list.node.contains(document.activeElement) || document.activeElement === document.body;
  const nextId = neighbour([...list.reviews.keys()], leaving);
  const currentLeaves = list.current !== null && leaving.includes(list.current);
  removeCards(list, leaving);
  if (!currentLeaves) return;
  list.current = null;
  if (nextId) setCurrent(list, nextId, focusWasInside);
  // The list is empty now: focus goes to its status line ("Nothing is waiting").
  else if (focusWasInside) {
    list.status.tabIndex = -1;
    list.status.focus();
  }
}

/** The card to go to when `leaving` leave the list (`ids`, in order): the next one after the last
 * of them, or else the one before the first. @param {string[]} ids @param {string[]} leaving */
function neighbour(ids, leaving) {
  const lastIndex = Math.max(...leaving.map((id) => ids.indexOf(id)));
  const firstIndex = Math.min(...leaving.map((id) => ids.indexOf(id)));
  const stays = (/** @type {string} */ id) => !leaving.includes(id);
  return ids.slice(lastIndex + 1).find(stays) ?? ids.slice(0, firstIndex).reverse().find(stays);
}

/** Whether a review still belongs in this list after a change of status.
 * @param {ReviewList} list @param {Review} review */
function belongs({ query }, review) {
  if (query.status && review.status !== query.status) return false;
  if (query.flagged === 'true' && !review.flag_count) return false;
  return true;
}

// --- replies ---------------------------------------------------------------------------------

/** Opens the reply form in a review's card. @param {ReviewList} list @param {string} id */
export function editReply(list, id) {
  const review = list.reviews.get(id);
  const section = list.cards.get(id)?.querySelector('.card__reply');
  if (!review || !section || review.status === 'deleted' || review.erased_at) return;
  const { form, field } = replyForm(review, (reply) => {
    if (reply !== undefined) toast(t('replySaved'));
    const latest = list.reviews.get(id) ?? review;
    rerender(list, reply === undefined ? latest : { ...latest, reply });
    list.cards.get(id)?.focus();
  });
  section.replaceChildren(form);
  field.focus();
}

/** @param {ReviewList} list @param {string} id */
export async function deleteReply(list, id) {
  try {
    await removeReply(id);
    const review = list.reviews.get(id);
    if (review) rerender(list, { ...review, reply: null });
    list.cards.get(id)?.focus();
    toast(t('replyRemoved'));
  } catch (error) {
    toast(errorText(error), { error: true });
  }
}
