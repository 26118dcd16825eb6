// One article at a glance: its settings (open for reviews, moderation mode), what readers think
// (average, histogram, reviews and average per day, languages) and its reviews in every status,
// with the same actions and shortcuts as the queue.

import { api, isAbort } from '../api.js';
import { announce, fill, h, uid } from '../dom.js';
import { dailyChart } from '../chart.js';
import { errorText, fmt, t } from '../i18n.js';
import { reviewList, stars } from '../reviews.js';

/** @typedef {import('../api.js').Status} Status */
/** @type {readonly Status[]} */
const STATUSES = ['pending', 'published', 'rejected', 'spam', 'deleted'];
const RANGES = [7, 30, 90];

/** Published reviews: all of them (`review_count`), and those with stars (`rated_count`), of which
 * `average` (null without any) and `histogram` are made.
 * @typedef {{ review_count: number, rated_count: number, average: number | null, histogram: Record<string, number> }} Stats */
/**
 * An article as the CMS registered it, with its published reviews' stats (GET /v1/articles/{id}).
 * @typedef {object} Article
 * @property {string} article_id
 * @property {string | null} [title]
 * @property {string | null} [language]
 * @property {string | null} [section]
 * @property {string | null} [published_at]
 * @property {string | null} [url]
 * @property {boolean} reviews_open
 * @property {'pre' | 'post' | null} [moderation]
 * @property {Stats} stats
 */
/** @typedef {{ language: string | null, review_count: number }} LanguageShare */

/** @param {string} value @returns {value is Status} */
const isStatus = (value) => STATUSES.some((status) => status === value);

/** @param {import('../console.js').ViewContext} context @returns {import('../console.js').View} */
export function render({ route, signal, refreshCounts }) {
  const articleId = route.parts[0];
  let status = readStatus(route.params);
  let range = readRange(route.params);
  // A link to one review (from the audit log): the list opens on it, in the status it has now.
  let seekReview = route.params.get('review');
  /** @type {ReturnType<typeof reviewList> | null} */
  let list = null;

  const heading = h('h1', {}, articleId);
  const meta = h('p', { class: 'article__meta muted' });
  const settings = h('div', { class: 'panel article__settings' }, h('p', {}, t('loading')));
  const summary = h('section', { class: 'panel', 'aria-label': t('ratings') }, h('h2', {}, t('ratings')), h('p', {}, t('loading')));
  const languages = h('section', { class: 'panel', 'aria-label': t('languageMix') }, h('h2', {}, t('languageMix')), h('p', {}, t('loading')));
  const rangeId = uid('range');
  const rangeSelect = h(
    'select',
    { id: rangeId, onchange: () => go({ days: rangeSelect.value }) },
    RANGES.map((days) => h('option', { value: days, selected: days === range }, t('lastDays', days))),
  );
  const chartSlot = h('div', {}, h('p', {}, t('loading')));
  const chartPanel = h(
    'section',
    { class: 'panel panel--wide', 'aria-labelledby': `${rangeId}-h` },
    h('div', { class: 'panel__head' }, h('h2', { id: `${rangeId}-h` }, t('overTime')), h('label', { for: rangeId, class: 'sr-only' }, t('range')), rangeSelect),
    chartSlot,
  );
  const statusLinks = STATUSES.map((name) => h('a', { class: 'tab', 'data-status': name }, t(`status.${name}`)));
  const listSlot = h('div', {});
  const node = h(
    'section',
    { class: 'article' },
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/queue/pending' }, t('backToQueue'))),
    heading,
    meta,
    h('div', { class: 'panels' }, summary, languages, settings, chartPanel),
    h(
      'section',
      { class: 'article__reviews', 'aria-labelledby': `${rangeId}-r` },
      h('h2', { id: `${rangeId}-r` }, t('articleReviews')),
      h('nav', { class: 'tabs', 'aria-label': t('statusTabs') }, statusLinks),
      listSlot,
    ),
  );

  /** @param {Record<string, string>} values */
  function hash(values) {
    const params = new URLSearchParams({ status, days: String(range), ...values });
    return `#/articles/${encodeURIComponent(articleId)}?${params}`;
  }
  const go = (/** @type {Record<string, string>} */ values) => {
    location.hash = hash(values);
  };

  async function loadArticle() {
    try {
      /** @type {Article} */
      const article = await api(`/v1/articles/${encodeURIComponent(articleId)}`, { signal });
      showArticle(article);
    } catch (error) {
      if (isAbort(error)) return;
      meta.textContent = errorText(error);
      summary.replaceChildren(h('h2', {}, t('ratings')), h('p', {}, errorText(error)));
    }
  }

  /** @param {Article} article */
  function showArticle(article) {
    heading.textContent = article.title || article.article_id;
    document.title = `${heading.textContent} · ${t('brand')}`;
    fill(
      meta,
      h('span', { class: 'mono' }, article.article_id),
      article.language ? h('span', {}, fmt.language(article.language)) : null,
      article.section ? h('span', {}, article.section) : null,
      article.published_at ? h('span', {}, t('publishedAt', { time: fmt.date(article.published_at) })) : null,
      // The CMS supplies the URL: only a web address becomes a link.
      /^https?:\/\//i.test(article.url || '')
        ? h('span', {}, h('a', { href: article.url, rel: 'noopener noreferrer', target: '_blank' }, t('openArticle')))
        : null,
    );
    showSettings(article);
    showStats(article.stats);
  }

  /** The article's settings, each saved as it changes. @param {Article} article */
  function showSettings(article) {
    // What the API last answered: a failed change puts the controls back to it.
    let current = article;
    const openId = uid('open');
    const modeId = uid('mode');
    const open = h('input', { id: openId, type: 'checkbox', checked: current.reviews_open });
    const mode = h(
      'select',
      { id: modeId },
      [
        ['', t('mode.site')],
        ['pre', t('mode.pre')],
        ['post', t('mode.post')],
      ].map(([value, text]) => h('option', { value, selected: (current.moderation || '') === value }, text)),
    );
    const saved = h('span', { class: 'muted', role: 'status' });
    /** @param {{ reviews_open?: boolean, moderation?: string | null }} change @param {HTMLInputElement | HTMLSelectElement} control */
    const patch = async (change, control) => {
      control.disabled = true;
      try {
        current = await api(`/v1/articles/${encodeURIComponent(articleId)}`, { method: 'PATCH', body: change });
        saved.textContent = t('saved');
      } catch (error) {
        saved.textContent = errorText(error);
      }
      control.disabled = false;
      open.checked = current.reviews_open;
      mode.value = current.moderation || '';
      control.focus();
    };
    open.addEventListener('change', () => patch({ reviews_open: open.checked }, open));
    mode.addEventListener('change', () => patch({ moderation: mode.value || null }, mode));
    settings.replaceChildren(
      h(
        'fieldset',
        { class: 'settings' },
        h('legend', {}, t('settings')),
        h('div', { class: 'settings__row' }, open, h('label', { for: openId }, t('reviewsOpen'))),
        h('div', { class: 'field' }, h('label', { for: modeId }, t('moderationMode')), mode),
        saved,
      ),
    );
  }

  /** @param {Stats} stats */
  function showStats(stats) {
    const total = stats.review_count;
    const { average, rated_count: rated } = stats;
    summary.replaceChildren(
      h('h2', {}, t('ratings')),
      total
        ? h(
            'p',
            { class: 'score' },
            average == null
              ? stars(null)
              : [
                  h('span', { class: 'score__average', 'aria-hidden': 'true' }, fmt.decimal(average)),
                  stars(Math.round(average)),
                  h('span', { class: 'sr-only' }, t('averageRating', { average: fmt.decimal(average) })),
                ],
            h('span', { class: 'score__count' }, t('publishedReviews', total)),
            rated < total ? h('span', { class: 'score__count' }, t('ratedReviews', rated)) : null,
          )
        : h('p', {}, t('noReviews')),
      // Shares of the reviews with stars: those without are in no bar.
      h(
        'ul',
        { class: 'bars', 'aria-label': t('histogram') },
        [5, 4, 3, 2, 1].map((rating) => bar(t('starsN', rating), stats.histogram[rating] || 0, rated)),
      ),
    );
  }

  async function loadDaily() {
    const to = new Date();
    const from = new Date(to.getTime() - (range - 1) * 86400000);
    const day = (/** @type {Date} */ date) => date.toISOString().slice(0, 10);
    try {
      /** @type {{ days: import('../chart.js').Day[], languages: LanguageShare[] | null }} */
      const daily = await api(`/v1/articles/${encodeURIComponent(articleId)}/stats/daily`, {
        query: { from: day(from), to: day(to) },
        signal,
      });
      chartSlot.replaceChildren(dailyChart(daily.days));
      showLanguages(daily.languages);
    } catch (error) {
      if (isAbort(error)) return;
      chartSlot.replaceChildren(h('p', {}, errorText(error)));
      languages.replaceChildren(h('h2', {}, t('languageMix')), h('p', {}, errorText(error)));
    }
  }

  /** @param {LanguageShare[] | null} mix */
  function showLanguages(mix) {
    const title = h('h2', {}, t('languageMix'));
    if (!mix) {
      languages.replaceChildren(title, h('p', { class: 'muted' }, t('languagesMissing')));
      return;
    }
    const total = mix.reduce((sum, item) => sum + item.review_count, 0);
    languages.replaceChildren(
      title,
      h('p', { class: 'muted' }, t('languagesRange', range)),
      total
        ? h(
            'ul',
            { class: 'bars bars--languages', 'aria-label': t('languageMix') },
            mix.map((item) => bar(item.language ? fmt.language(item.language) : t('languageUnknown'), item.review_count, total, true)),
          )
        : h('p', {}, t('noReviewsRange')),
    );
  }

  function showList() {
    for (const link of statusLinks) {
      link.href = hash({ status: link.dataset.status ?? '' });
      if (link.dataset.status === status) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    list?.destroy();
    const shown = reviewList({
      query: { status, article_id: articleId },
      showArticle: false,
      label: t('articleReviewsIn', { status: t(`status.${status}`) }),
      emptyText: t('emptyStatus', { status: t(`status.${status}`) }),
      onChanged: () => {
        refreshCounts();
        // A change of status moves the published stats and the chart.
        loadArticle();
        loadDaily();
      },
    });
    list = shown;
    listSlot.replaceChildren(shown.node);
    shown.load({ keep: seekReview, seek: Boolean(seekReview) });
    seekReview = null;
  }

  /** The status a review has now: the newest entry of its audit log says where it went last. */
  async function seekStatus() {
    if (seekReview && !route.params.get('status')) {
      try {
        /** @type {import('../api.js').Page<{ to_status: string }>} */
        const page = await api('/v1/moderation/log', { query: { review_id: seekReview, limit: 1 }, signal });
        const latest = page.items[0]?.to_status;
        if (latest !== undefined && isStatus(latest)) status = latest;
      } catch (error) {
        if (isAbort(error)) return;
        // Then the list opens on the default status and says the review is not there.
      }
    }
    showList();
  }

  loadArticle();
  loadDaily();
  seekStatus();
  return {
    node,
    title: t('articleTitle'),
    update(next) {
      if (next.name !== 'articles' || next.parts[0] !== articleId) return false;
      const nextStatus = readStatus(next.params);
      const nextRange = readRange(next.params);
      if (nextRange !== range) {
        range = nextRange;
        rangeSelect.value = String(range);
        loadDaily();
        announce(t('lastDays', range));
      }
      if (nextStatus !== status) {
        status = nextStatus;
        showList();
      }
      return true;
    },
    poll: () => (status === 'pending' ? list?.pollNew() : undefined),
    // The list comes once the linked review's status is known.
    key: (event) => list?.key(event) ?? false,
    destroy: () => list?.destroy(),
  };
}

/** One row of a bar list: label, bar (decoration), count and share in text.
 * @param {string} label @param {number} count @param {number} total */
function bar(label, count, total, share = false) {
  const fill = h('span', { class: 'bar__fill' });
  fill.style.width = total ? `${(count / total) * 100}%` : '0';
  return h(
    'li',
    { class: 'bar' },
    h('span', { class: 'bar__label' }, label),
    h('span', { class: 'bar__track', 'aria-hidden': 'true' }, fill),
    h('span', { class: 'bar__count' }, share && total ? `${fmt.number(count)} · ${fmt.percent(count / total)}` : fmt.number(count)),
  );
}

/** @param {URLSearchParams} params @returns {Status} */
function readStatus(params) {
  const status = params.get('status');
  return status !== null && isStatus(status) ? status : 'published';
}

/** @param {URLSearchParams} params */
function readRange(params) {
  const days = Number(params.get('days'));
  return RANGES.includes(days) ? days : 30;
}
