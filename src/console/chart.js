// The article's reviews per day (bars) and average rating per day (line and points) as an SVG drawn
// by hand: a charting library would outweigh the whole console. The SVG is drawn at the width it
// is shown at, so its text stays legible on a phone; a text summary and a table carry the same data
// for screen readers and for anyone who wants the numbers.

import { h, s, uid } from './dom.js';
import { fmt, t } from './i18n.js';

const HEIGHT = 220;
const PAD = { top: 14, right: 34, bottom: 30, left: 34 };

/** @typedef {{ date: string, review_count: number, rated_count?: number, average: number | null }} Day
 * a day's published reviews; its average is of the `rated_count` of them that have stars */

/** A figure for `days`: chart, legend, summary and table. @param {Day[]} days */
export function dailyChart(days) {
  const summaryId = uid('chart-summary');
  const total = days.reduce((sum, day) => sum + day.review_count, 0);
  // Each day's average weighs as many as it is made of: its reviews with stars.
  const ratedCount = (/** @type {Day} */ day) => day.rated_count ?? day.review_count;
  const rated = days.reduce((sum, day) => sum + (day.average == null ? 0 : ratedCount(day)), 0);
  const average = rated ? days.reduce((sum, day) => sum + (day.average ?? 0) * ratedCount(day), 0) / rated : null;
  const busiest = days.reduce(
    (/** @type {Day | null} */ best, day) => (day.review_count > (best?.review_count ?? 0) ? day : best),
    null,
  );
  const summary = busiest
    ? t('chartSummary', {
        days: days.length,
        n: total,
        average: fmt.decimal(average),
        day: fmt.day(busiest.date),
        busiest: busiest.review_count,
      })
    : t('chartEmpty', { days: days.length });

  const canvas = h('div', { class: 'chart__canvas' });
  const figure = h(
    'figure',
    { class: 'chart' },
    canvas,
    h(
      'div',
      { class: 'chart__legend', 'aria-hidden': 'true' },
      h('span', { class: 'legend legend--bars' }, t('chartBars')),
      h('span', { class: 'legend legend--line' }, t('chartLine')),
    ),
    h('figcaption', { id: summaryId }, summary),
    dataTable(days),
  );

  let drawnWidth = 0;
  const draw = () => {
    const width = Math.max(280, Math.round(canvas.clientWidth || 640));
    if (width === drawnWidth) return;
    drawnWidth = width;
    canvas.replaceChildren(svg(days, width, summaryId));
  };
  // Drawn once the figure is in the page and has a width, and again when that width changes.
  new ResizeObserver(draw).observe(canvas);
  return figure;
}

/** @param {Day[]} days @param {number} width @param {string} summaryId */
function svg(days, width, summaryId) {
  const plotWidth = width - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const maxCount = Math.max(1, ...days.map((day) => day.review_count));
  const step = plotWidth / days.length;
  const barWidth = Math.max(1, step * 0.7);
  const x = (/** @type {number} */ index) => PAD.left + index * step + step / 2;
  const yCount = (/** @type {number} */ count) => PAD.top + plotHeight - (count / maxCount) * plotHeight;
  const yRating = (/** @type {number} */ rating) => PAD.top + plotHeight - ((rating - 1) / 4) * plotHeight;

  const grid = [1, 2, 3, 4, 5].map((rating) =>
    s('line', { class: 'chart__grid', x1: PAD.left, x2: width - PAD.right, y1: yRating(rating), y2: yRating(rating) }),
  );
  const bars = days.map((day, index) =>
    s('rect', {
      class: 'chart__bar',
      x: x(index) - barWidth / 2,
      y: yCount(day.review_count),
      width: barWidth,
      height: Math.max(0, PAD.top + plotHeight - yCount(day.review_count)),
      'data-date': day.date,
      'data-count': day.review_count,
    }),
  );
  const points = days.flatMap((day, index) =>
    day.average == null
      ? []
      : [s('circle', { class: 'chart__point', cx: x(index), cy: yRating(day.average), r: 3.5, 'data-date': day.date, 'data-average': day.average })],
  );
  const path = days
    .map((day, index) => (day.average == null ? null : `${x(index).toFixed(1)},${yRating(day.average).toFixed(1)}`))
    .filter(Boolean);
  const line = path.length > 1 ? s('polyline', { class: 'chart__line', points: path.join(' ') }) : null;

  // Axis labels: counts on the left, ratings on the right, three dates below.
  const label = (/** @type {string} */ text, /** @type {Record<string, string | number>} */ attributes) => s('text', { class: 'chart__label', ...attributes }, text);
  const labelIndexes = [...new Set([0, Math.floor((days.length - 1) / 2), days.length - 1])];
  const labels = [
    label(fmt.number(maxCount), { x: PAD.left - 6, y: PAD.top + 4, 'text-anchor': 'end' }),
    label('0', { x: PAD.left - 6, y: PAD.top + plotHeight + 4, 'text-anchor': 'end' }),
    ...[1, 3, 5].map((rating) => label(`${rating}★`, { x: width - PAD.right + 6, y: yRating(rating) + 4 })),
    ...labelIndexes.map((index, position) =>
      label(fmt.day(days[index].date), {
        x: x(index),
        y: HEIGHT - 8,
        'text-anchor': position === 0 ? 'start' : position === labelIndexes.length - 1 ? 'end' : 'middle',
      }),
    ),
  ];
  return s(
    'svg',
    { class: 'chart__svg', viewBox: `0 0 ${width} ${HEIGHT}`, width, height: HEIGHT, role: 'img', 'aria-labelledby': summaryId },
    grid,
    s('line', { class: 'chart__axis', x1: PAD.left, x2: width - PAD.right, y1: PAD.top + plotHeight, y2: PAD.top + plotHeight }),
    bars,
    line,
    points,
    labels,
  );
}

/** The days with reviews as a table, folded away by default. @param {Day[]} days */
function dataTable(days) {
  const withReviews = days.filter((day) => day.review_count > 0);
  return h(
    'details',
    { class: 'chart__data' },
    h('summary', {}, t('chartTable')),
    withReviews.length
      ? h(
          'table',
          {},
          h('caption', { class: 'sr-only' }, t('chartTable')),
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('day')), h('th', { scope: 'col' }, t('reviewsCol')), h('th', { scope: 'col' }, t('averageCol')))),
          h(
            'tbody',
            {},
            withReviews.map((day) =>
              h('tr', {}, h('th', { scope: 'row' }, fmt.day(day.date)), h('td', {}, fmt.number(day.review_count)), h('td', {}, fmt.decimal(day.average))),
            ),
          ),
        )
      : h('p', {}, t('chartNoDays')),
    withReviews.length < days.length ? h('p', { class: 'muted' }, t('chartOmitted')) : null,
  );
}
