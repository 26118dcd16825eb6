// Integrations: the outbound webhook endpoints (admin keys only), each with its delivery log,
// redelivery, enable/disable and secret rotation. A rotated secret is shown once, here, with a
// copy button: the API never returns it again.

import { api, isAbort, session } from '../api.js';
import { announce, confirmDialog, fill, h, uid } from '../dom.js';
import { errorText, fmt, t } from '../i18n.js';
import { toast } from '../toast.js';

const DELIVERY_PAGE = 20;

/**
 * A webhook endpoint (GET /v1/webhook-endpoints).
 * @typedef {object} Endpoint
 * @property {string} id
 * @property {string} url
 * @property {string | null} [description]
 * @property {string[]} event_types
 * @property {boolean} enabled
 * @property {string | null} [failing_since]
 * @property {string | null} [disabled_reason]
 * @property {string | null} [previous_secret_valid_until]
 */
/** @typedef {{ status_code?: number | null, error?: string | null, latency_ms: number }} Attempt */
/**
 * A delivery of an event to an endpoint, with its attempts.
 * @typedef {object} Delivery
 * @property {string} id
 * @property {string} event_type
 * @property {string} status
 * @property {number} attempts
 * @property {Attempt[]} log
 * @property {string} created_at
 * @property {string | null} [next_attempt_at]
 */

/** @param {import('../console.js').ViewContext} context @returns {import('../console.js').View} */
export function render({ signal }) {
  const status = h('p', { class: 'list-status', role: 'status' });
  const list = h('div', { class: 'endpoints' });
  const node = h(
    'section',
    { class: 'integrations' },
    h('h1', {}, t('integrationsTitle')),
    h('p', { class: 'muted' }, t('integrationsIntro')),
    status,
    list,
  );

  if (!session.isAdmin) {
    status.replaceChildren(h('span', { class: 'notice notice--warning' }, t('needsAdmin', { scopes: session.me?.scopes.join(', ') })));
    return { node, title: t('integrationsTitle') };
  }

  async function load() {
    status.textContent = t('loading');
    try {
      /** @type {{ items: Endpoint[] }} */
      const { items } = await api('/v1/webhook-endpoints', { signal });
      list.replaceChildren(...items.map(endpointCard));
      status.textContent = items.length ? '' : t('noEndpoints');
    } catch (error) {
      if (!isAbort(error)) status.textContent = errorText(error);
    }
  }

  /** @param {Endpoint} endpoint */
  function endpointCard(endpoint) {
    const headingId = uid('endpoint');
    const card = h('article', { class: 'card endpoint', 'aria-labelledby': headingId, 'data-endpoint': endpoint.id });
    const secretSlot = h('div', {});
    const deliveries = h('div', { class: 'deliveries', hidden: true });
    const deliveriesButton = h(
      'button',
      { type: 'button', class: 'button button--small', 'aria-expanded': 'false', onclick: () => toggleDeliveries() },
      t('showDeliveries'),
    );
    /** @type {string | null} */
    let before = null;

    const state = () => {
      if (endpoint.enabled) {
        return endpoint.failing_since
          ? h('span', { class: 'badge badge--warning' }, t('failingSince', { time: fmt.dateTime(endpoint.failing_since) }))
          : h('span', { class: 'badge badge--published' }, t('enabled'));
      }
      return h('span', { class: 'badge badge--rejected' }, t('disabled'), endpoint.disabled_reason ? `: ${endpoint.disabled_reason}` : '');
    };

    function draw() {
      const toggle = h(
        'button',
        { type: 'button', class: 'button button--small', onclick: () => setEnabled(!endpoint.enabled) },
        endpoint.enabled ? t('disable') : t('enable'),
      );
      fill(
        card,
        h('div', { class: 'card__top' }, h('h2', { id: headingId, class: 'endpoint__url' }, endpoint.url), state()),
        endpoint.description ? h('p', { dir: 'auto' }, endpoint.description) : null,
        h(
          'p',
          { class: 'card__meta' },
          h('span', {}, t('events'), ' ', endpoint.event_types.join(', ')),
          endpoint.previous_secret_valid_until
            ? h('span', {}, t('previousSecret', { time: fmt.dateTime(endpoint.previous_secret_valid_until) }))
            : null,
        ),
        secretSlot,
        h('div', { class: 'card__actions' }, toggle, h('button', { type: 'button', class: 'button button--small', onclick: rotate }, t('rotateSecret')), deliveriesButton),
        deliveries,
      );
      return toggle;
    }

    /** @param {boolean} enabled */
    async function setEnabled(enabled) {
      try {
        endpoint = await api(`/v1/webhook-endpoints/${endpoint.id}`, { method: 'PATCH', body: { enabled } });
        draw().focus();
        toast(t(enabled ? 'endpointEnabled' : 'endpointDisabled'));
      } catch (error) {
        toast(errorText(error), { error: true });
      }
    }

    async function rotate() {
      const sure = await confirmDialog({
        title: t('rotateTitle'),
        text: t('rotateText'),
        confirm: t('rotateSecret'),
        cancel: t('cancel'),
      });
      if (!sure) return;
      try {
        /** @type {{ secret: string, previous_secret_valid_until: string | null }} */
        const rotated = await api(`/v1/webhook-endpoints/${endpoint.id}/rotate-secret`, { method: 'POST' });
        endpoint = { ...endpoint, previous_secret_valid_until: rotated.previous_secret_valid_until };
        const wasOpen = !deliveries.hidden;
        draw();
        if (wasOpen) toggleDeliveries(true);
        showSecret(rotated.secret);
      } catch (error) {
        toast(errorText(error), { error: true });
      }
    }

    /** @param {string} secret */
    function showSecret(secret) {
      const fieldId = uid('secret');
      const field = h('input', { id: fieldId, type: 'text', readonly: true, class: 'mono secret__value', value: secret, spellcheck: 'false' });
      const copied = h('span', { role: 'status', class: 'muted' });
      const copy = h(
        'button',
        {
          type: 'button',
          class: 'button button--small button--primary',
          onclick: async () => {
            try {
              await navigator.clipboard.writeText(secret);
              copied.textContent = t('copied');
            } catch {
              // Without clipboard access (an insecure origin), the text is selected for Ctrl+C.
              field.select();
              copied.textContent = t('copyByHand');
            }
          },
        },
        t('copy'),
      );
      secretSlot.replaceChildren(
        h(
          'div',
          { class: 'secret notice notice--warning' },
          h('label', { for: fieldId }, t('newSecret')),
          h('div', { class: 'secret__row' }, field, copy),
          h('p', {}, t('secretOnce')),
          copied,
        ),
      );
      field.focus();
      field.select();
    }

    async function toggleDeliveries(open = deliveries.hidden) {
      deliveries.hidden = !open;
      deliveriesButton.setAttribute('aria-expanded', String(open));
      deliveriesButton.textContent = open ? t('hideDeliveries') : t('showDeliveries');
      if (open) {
        before = null;
        deliveries.replaceChildren(h('p', {}, t('loading')));
        await loadDeliveries();
      }
    }

    async function loadDeliveries(next = false) {
      try {
        /** @type {{ items: Delivery[], next_before: string | null }} */
        const page = await api(`/v1/webhook-endpoints/${endpoint.id}/deliveries`, {
          query: { limit: DELIVERY_PAGE, before: next ? before : undefined },
          signal,
        });
        before = page.next_before;
        const rows = page.items.map(deliveryRow);
        if (!next) {
          deliveries.replaceChildren(
            h('h3', {}, t('deliveries')),
            page.items.length ? h('ul', { class: 'delivery-list' }, rows) : h('p', {}, t('noDeliveries')),
          );
        } else {
          deliveries.querySelector('.delivery-list')?.append(...rows);
          deliveries.querySelector('.deliveries__more')?.remove();
          announce(t('shownMore', rows.length));
        }
        if (before) {
          deliveries.append(
            h('button', { type: 'button', class: 'button button--small deliveries__more', onclick: () => loadDeliveries(true) }, t('olderDeliveries')),
          );
        }
      } catch (error) {
        if (!isAbort(error)) deliveries.replaceChildren(h('p', {}, errorText(error)));
      }
    }

    /** @param {Delivery} delivery */
    function deliveryRow(delivery) {
      const item = h('li', { class: 'delivery', 'data-delivery': delivery.id });
      /** @param {Delivery} current */
      const drawRow = (current) => {
        const last = current.log[current.log.length - 1];
        const outcome = last
          ? last.status_code != null
            ? t('httpStatus', { code: last.status_code })
            : last.error || t('noAnswer')
          : t('notTried');
        const redeliver =
          current.status === 'pending'
            ? null
            : h(
                'button',
                {
                  type: 'button',
                  class: 'button button--small',
                  onclick: async () => {
                    try {
                      /** @type {Delivery} */
                      const queued = await api(`/v1/webhook-endpoints/${endpoint.id}/deliveries/${current.id}/redeliver`, { method: 'POST' });
                      drawRow(queued);
                      /** @type {HTMLElement | null} */ (item.querySelector('.delivery__status'))?.focus();
                      toast(t('redelivering'));
                    } catch (error) {
                      toast(errorText(error), { error: true });
                    }
                  },
                },
                t('redeliver'),
              );
        fill(
          item,
          h('span', { class: 'delivery__event mono' }, current.event_type),
          h('span', { class: `badge badge--delivery-${current.status} delivery__status`, tabindex: '-1' }, t(`delivery.${current.status}`)),
          h('span', {}, t('attempts', current.attempts)),
          last ? h('span', {}, t('latency', { ms: fmt.number(last.latency_ms) })) : null,
          h('span', {}, outcome),
          h('time', { datetime: current.created_at }, fmt.dateTime(current.created_at)),
          current.status === 'pending' && current.next_attempt_at
            ? h('span', {}, t('nextAttempt', { time: fmt.dateTime(current.next_attempt_at) }))
            : null,
          redeliver,
        );
      };
      drawRow(delivery);
      return item;
    }

    draw();
    return card;
  }

  load();
  return { node, title: t('integrationsTitle') };
}
