// A signed-in reader as moderators see them (#/readers/{reader_id}, opened from a verified review's
// card): their reviews on the site by status, the suspension in force with a form to suspend them
// for a time or for good and a button to lift it, the record of suspensions, and their newest
// reviews with the queue's actions and shortcuts. The id is the one the site's login gives the
// reader (a token's `sub`): moderators see it, the public never does.

import { api, ApiError, isAbort } from '../api.js';
import { fill, h, uid } from '../dom.js';
import { errorText, fmt, t } from '../i18n.js';
import { reviewList } from '../reviews.js';
import { toast } from '../toast.js';

/** @typedef {import('../api.js').Status} Status */
/** @typedef {{ until: string | null, reason: string, actor: string, created_at: string }} Suspension */
/** @typedef {{ action: string, until: string | null, reason: string | null, actor: string, created_at: string }} RecordEntry */
/** @typedef {{ field: string, code: string, message: string }} FieldError an entry of a problem's `errors` */
/**
 * A reader's standing (GET /v1/moderation/readers/{reader_id}).
 * @typedef {object} Standing
 * @property {string} reader_id
 * @property {Record<Status, number>} reviews
 * @property {Suspension | null} suspension
 * @property {import('../api.js').Review[]} recent the newest 20, any status
 * @property {RecordEntry[]} log suspensions and reinstatements, newest first
 */

/** @type {readonly Status[]} */
const STATUSES = ['pending', 'published', 'rejected', 'spam', 'deleted'];
// What the form offers, in days; empty: for good. A week is what a desk usually starts with.
const DURATIONS = ['1', '7', '30', ''];
const DEFAULT_DURATION = '7';
const DAY_MS = 86_400_000;
const REASON_MAX_CHARS = 500;

/** @param {import('../console.js').ViewContext} context @returns {import('../console.js').View} */
export function render({ route, refreshCounts }) {
  const readerId = route.parts[0] ?? '';
  const path = `/v1/moderation/readers/${encodeURIComponent(readerId)}`;
  const name = t('readerNamed', { id: readerId });
  const ids = { counts: uid('counts'), suspension: uid('suspension'), record: uid('record'), recent: uid('recent') };

  const counts = h('dl', { class: 'reader-counts' });
  const countsStatus = h('p', { class: 'list-status' }, t('loading'));
  // Where focus goes once the suspension changed: it says what holds now.
  const state = h('div', { class: 'reader-state', tabindex: '-1' }, h('p', {}, t('loading')));
  const lift = h('button', { type: 'button', class: 'button', hidden: true, onclick: liftSuspension }, t('liftSuspension'));
  const record = h('div', {}, h('p', {}, t('loading')));
  const form = suspendForm();

  const list = reviewList({
    query: {},
    source: readStanding,
    showReader: false,
    label: t('readerRecent'),
    emptyText: t('readerNoReviews'),
    onChanged: () => {
      refreshCounts();
      // A decision moves the reader's counts: read them again (the cards show the API's answer).
      // A failure is shown in the panels by readStanding itself.
      readStanding().catch(() => {});
    },
  });

  const node = h(
    'section',
    { class: 'reader' },
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/queue/pending' }, t('backToQueue'))),
    h('h1', { class: 'reader__id' }, name),
    h('p', { class: 'muted' }, t('readerIntro')),
    h(
      'div',
      { class: 'panels' },
      h('section', { class: 'panel', 'aria-labelledby': ids.counts }, h('h2', { id: ids.counts }, t('readerCounts')), countsStatus, counts),
      h('section', { class: 'panel', 'aria-labelledby': ids.suspension }, h('h2', { id: ids.suspension }, t('suspension')), state, lift, form.node),
      h('section', { class: 'panel', 'aria-labelledby': ids.record }, h('h2', { id: ids.record }, t('readerRecord')), record),
    ),
    h('section', { class: 'reader__reviews', 'aria-labelledby': ids.recent }, h('h2', { id: ids.recent }, t('readerRecent')), list.node),
  );

  /** Reads the standing and shows it; the list's source, so that it also gives the newest reviews.
   * @param {AbortSignal} [signal] @returns {Promise<import('../api.js').Page<import('../api.js').Review>>} */
  async function readStanding(signal) {
    try {
      /** @type {Standing} */
      const standing = await api(path, { signal });
      showStanding(standing);
      return { items: standing.recent, next_cursor: null };
    } catch (error) {
      if (!isAbort(error)) {
        countsStatus.textContent = errorText(error);
        state.replaceChildren(h('p', {}, errorText(error)));
        record.replaceChildren();
      }
      throw error;
    }
  }

  /** @param {Standing} standing */
  function showStanding(standing) {
    countsStatus.textContent = '';
    fill(
      counts,
      STATUSES.map((status) => h('div', {}, h('dt', {}, t(`status.${status}`)), h('dd', {}, fmt.number(standing.reviews[status] ?? 0)))),
    );
    showSuspension(standing.suspension);
    fill(
      record,
      standing.log.length ? h('ol', { class: 'reader-record' }, standing.log.map(recordEntry)) : h('p', { class: 'muted' }, t('recordEmpty')),
    );
  }

  /** @param {Suspension | null} suspension */
  function showSuspension(suspension) {
    lift.hidden = !suspension;
    form.suspended(Boolean(suspension));
    if (!suspension) {
      fill(state, h('p', { class: 'reader-state__line' }, t('notSuspended')));
      return;
    }
    fill(
      state,
      h('p', { class: 'reader-state__line reader-state__line--suspended' }, until(suspension.until)),
      h(
        'dl',
        { class: 'reader-state__details' },
        h('div', {}, h('dt', {}, t('suspensionReason')), h('dd', { dir: 'auto' }, suspension.reason)),
        h('div', {}, h('dt', {}, t('suspensionBy')), h('dd', {}, suspension.actor)),
        h('div', {}, h('dt', {}, t('suspensionSince')), h('dd', {}, h('time', { datetime: suspension.created_at }, fmt.dateTime(suspension.created_at)))),
      ),
    );
  }

  /** @param {RecordEntry} entry */
  function recordEntry(entry) {
    return h(
      'li',
      {},
      h('p', { class: 'reader-record__what' }, entry.action === 'suspend' ? until(entry.until) : t('recordLifted')),
      entry.reason ? h('p', { class: 'reader-record__reason', dir: 'auto' }, entry.reason) : null,
      h(
        'p',
        { class: 'card__meta' },
        h('span', {}, t('recordBy', { actor: entry.actor })),
        h('span', {}, h('time', { datetime: entry.created_at }, fmt.dateTime(entry.created_at))),
      ),
    );
  }

  /** The form that suspends the reader (or replaces the suspension in force). The API checks it;
   * its field errors show beside their fields. */
  function suspendForm() {
    const durationId = uid('duration');
    const reasonId = uid('reason');
    const hintId = uid('reason-hint');
    const untilError = h('p', { id: uid('until-error'), class: 'field-error' });
    const reasonError = h('p', { id: uid('reason-error'), class: 'field-error' });
    const duration = h(
      'select',
      { id: durationId, 'aria-describedby': untilError.id },
      DURATIONS.map((days) => h('option', { value: days, selected: days === DEFAULT_DURATION }, days ? t('forDays', Number(days)) : t('forGood'))),
    );
    const reason = h('textarea', {
      id: reasonId,
      rows: 3,
      maxlength: REASON_MAX_CHARS,
      required: true,
      dir: 'auto',
      'aria-describedby': `${hintId} ${reasonError.id}`,
    });
    /** Each field the API may name, by its name in the request. @type {Record<string, { control: HTMLElement, error: HTMLElement }>} */
    const fields = { until: { control: duration, error: untilError }, reason: { control: reason, error: reasonError } };
    // What is no field's: the key's scope, the service out of reach.
    const failure = h('p', { class: 'field-error', role: 'alert' });
    const heading = h('h3', {}, t('suspendTitle'));
    const submit = h('button', { type: 'submit', class: 'button button--danger' }, t('suspend'));

    function clearErrors() {
      for (const { control, error } of Object.values(fields)) {
        control.removeAttribute('aria-invalid');
        error.textContent = '';
      }
      failure.textContent = '';
    }

    /** Puts each of the problem's field errors beside its field and focuses the first.
     * @param {unknown} error */
    function refused(error) {
      const problem = error instanceof ApiError ? error.problem : null;
      const listed = /** @type {FieldError[]} */ (Array.isArray(problem?.errors) ? problem.errors : []);
      const known = listed.filter((item) => Object.hasOwn(fields, item.field));
      for (const { field, message } of known) {
        fields[field].control.setAttribute('aria-invalid', 'true');
        fields[field].error.textContent = message;
      }
      if (known.length) fields[known[0].field].control.focus();
      else failure.textContent = errorText(error);
    }

    /** @param {SubmitEvent} event */
    async function send(event) {
      event.preventDefault();
      clearErrors();
      const days = Number(duration.value);
      const body = {
        until: days ? new Date(Date.now() + days * DAY_MS).toISOString() : null,
        // A blank reason goes as none, so that the API says what it wants ("say why, for the record").
        reason: reason.value.trim() || null,
      };
      submit.disabled = true;
      try {
        /** @type {Suspension} */
        const suspension = await api(`${path}/suspension`, { method: 'PUT', body });
        // The form is for the next change: it does not stand for the suspension now in force.
        reason.value = '';
        duration.value = DEFAULT_DURATION;
        toast(t('readerToast', { id: readerId, state: until(suspension.until) }));
        await list.load();
        state.focus();
      } catch (error) {
        refused(error);
      } finally {
        submit.disabled = false;
      }
    }

    const node = h(
      'form',
      { class: 'suspend-form', novalidate: true, onsubmit: send },
      heading,
      h('p', { class: 'muted' }, t('suspendIntro')),
      h('div', { class: 'field' }, h('label', { for: durationId }, t('suspendFor')), duration, untilError),
      h(
        'div',
        { class: 'field' },
        h('label', { for: reasonId }, t('suspendReason')),
        h('p', { id: hintId, class: 'hint' }, t('suspendReasonHint', REASON_MAX_CHARS)),
        reason,
        reasonError,
      ),
      failure,
      submit,
    );
    return {
      node,
      /** A suspension in force is replaced by the next one: the form says so. @param {boolean} suspended */
      suspended(suspended) {
        heading.textContent = t(suspended ? 'changeSuspension' : 'suspendTitle');
        submit.textContent = t(suspended ? 'replaceSuspension' : 'suspend');
      },
    };
  }

  async function liftSuspension() {
    lift.disabled = true;
    try {
      await api(`${path}/suspension`, { method: 'DELETE', as: 'none' });
      toast(t('readerToast', { id: readerId, state: t('recordLifted') }));
      await list.load();
      // The button has gone with the suspension; the state says what holds now.
      state.focus();
    } catch (error) {
      toast(errorText(error), { error: true });
    } finally {
      lift.disabled = false;
    }
  }

  list.load();
  return {
    node,
    title: name,
    update: (next) => next.name === 'readers' && next.parts[0] === readerId,
    key: (event) => list.key(event),
    destroy: () => list.destroy(),
  };
}

/** A suspension's end in words. @param {string | null} end null: for good */
const until = (end) => (end ? t('suspendedUntil', { time: fmt.dateTime(end) }) : t('suspendedForGood'));
