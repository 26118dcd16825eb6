// Reviews without stars and reply chains, in the widget and in the editors' console, in Debian's
// chromium against the service tests/browser/run.sh starts. Run last: it lets the default site
// take reviews without stars for a while (PUT /v1/sites/default, `unrated_reviews`), and leaves a
// pending review in the default site's queue. It proves, through the public API and on screen, that:
// - seeded through the real binary: an article registered by the CMS, a comment thread imported
//   with `marginalia import marginalia tests/browser/threads.ndjson` (the only way to an
//   `in_reply_to`; its dates moved to the last two days), and reviews with and without stars
//   posted through the API, the stats count every review and average the rated ones only;
// - the widget (Ukrainian, and English in a second widget on the page): a review without stars
//   shows no stars and nothing a screen reader would read as a rating; a reply says what it
//   answers in words ("In reply to Taras", "… a reader", "… an earlier review" when the review it
//   answers is not listed), is set in, and its link (when the review answered is listed) takes
//   focus to that review from the keyboard without touching the page's address; the summary
//   averages the rated reviews, and shows the count alone, with no average and no histogram, for
//   an article whose reviews have no stars;
// - a reader who chooses no star sends no `rating` (the site decides): stored without stars where
//   the site allows it, and edited again without stars; where the site requires stars, the
//   service's refusal shows under the stars;
// - the console: a pending reply in the queue says "No rating" instead of stars and what it
//   answers (the review's id shortened, not in the list); in the article view, a reply names the
//   author of a review in the same list, and its link makes that review's card the current one;
//   the summary and the chart's caption average the rated reviews (the chart weighs each day by
//   its `rated_count`);
// - axe-core finds no moderate, serious or critical violation on the widget and the article view.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { launchChromium } from './launch.mjs';

const require = createRequire(import.meta.url);
const env = process.env;
const base = env.MARGINALIA_URL;
const keys = { cms: env.CMS_KEY, moderator: env.MODERATOR_KEY, admin: env.ADMIN_KEY };
assert.ok(base && env.MARGINALIA_BIN && Object.values(keys).every(Boolean), 'run me through tests/browser/run.sh');
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const started = Date.now();

const THREAD = 'browser-threads';
const UNRATED = 'browser-unrated';
// The imported reviews (tests/browser/threads.ndjson), by their ids there.
const id = (n) => `0190c3a0-0000-7000-8000-${String(n).padStart(12, '0')}`;
const imported = {
  hidden: id(1), // pending, without stars, in reply to Taras: only in the queue
  taras: id(2), // 4 stars
  anonymous: id(3), // without stars, no name
  mykola: id(4), // without stars, in reply to Taras
  iryna: id(5), // 2 stars, in reply to the anonymous reader
  olha: id(6), // without stars, in reply to the pending review
};

const problems = [];
const audits = [];

// --- the API ------------------------------------------------------------------------------------

async function call(path, { key, method = 'GET', body, ok = true } = {}) {
  const response = await fetch(base + path, {
    method,
    headers: { ...(key ? { Authorization: `Bearer ${key}` } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  if (ok) assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return { status: response.status, answer: text ? JSON.parse(text) : null };
}
const get = async (path, key) => (await call(path, { key })).answer;
const allowUnrated = (allowed) =>
  call('/v1/sites/default', { key: keys.admin, method: 'PUT', body: { unrated_reviews: allowed || null } });

async function seed() {
  for (const [articleId, title] of [
    [THREAD, 'Kunar after the Taliban offensive: who is left?'],
    [UNRATED, 'Letters: the Kunar map'],
  ]) {
    await call(`/v1/articles/${articleId}`, {
      key: keys.cms,
      method: 'PUT',
      body: { title, url: `https://news.example.org/a/${articleId}`, language: 'en' },
    });
  }
  // The thread, two and one days ago (the chart shows the last 30 days).
  const day = (ago) => new Date(Date.now() - ago * 86_400_000).toISOString().slice(0, 10);
  const ndjson = readFileSync('tests/browser/threads.ndjson', 'utf8').replaceAll('2020-01-01', day(2)).replaceAll('2020-01-02', day(1));
  mkdirSync('target/browser', { recursive: true });
  writeFileSync('target/browser/threads.ndjson', ndjson);
  const report = JSON.parse(
    execFileSync(env.MARGINALIA_BIN, ['import', 'marginalia', 'target/browser/threads.ndjson', '--site', 'default', '--json'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  console.log(`threads: imported ${JSON.stringify(report)}`);
  for (const [name, reviewId] of Object.entries(imported)) {
    const stored = await call(`/v1/reviews/${reviewId}`, { ok: false });
    if (name === 'hidden') assert.equal(stored.status, 404, 'a pending review is not public');
    else assert.equal(stored.status, 200, `${name} is public`);
  }
  assert.equal((await get(`/v1/reviews/${imported.mykola}`)).in_reply_to, imported.taras);
  assert.equal((await get(`/v1/reviews/${imported.mykola}`)).rating, null);

  // Without stars through the API: refused while the site wants stars, taken once it does not.
  const unrated = { body: 'Glad someone asked about the figures; I wondered too.', author_name: 'Petro', language: 'en' };
  const refused = await call(`/v1/articles/${THREAD}/reviews`, { method: 'POST', body: unrated, ok: false });
  assert.equal(refused.status, 422, 'a rating is required by default');
  assert.deepEqual(
    refused.answer.errors.map((error) => error.field),
    ['rating'],
  );
  await allowUnrated(true);
  const posted = (await call(`/v1/articles/${THREAD}/reviews`, { method: 'POST', body: unrated })).answer;
  assert.equal(posted.rating, null);
  await call(`/v1/articles/${THREAD}/reviews`, {
    method: 'POST',
    body: { rating: 5, title: 'Worth it', body: 'The best account of Kunar I have read this year.', author_name: 'Sofia', language: 'en' },
  });
  await call(`/v1/articles/${UNRATED}/reviews`, {
    method: 'POST',
    body: { body: 'The map’s legend is missing its scale.', author_name: 'Petro', language: 'en' },
  });

  // 7 published reviews (the pending one is not counted), 3 of them rated: 4, 2 and 5.
  const stats = await get(`/v1/articles/${THREAD}/stats`);
  assert.deepEqual([stats.review_count, stats.rated_count, stats.average], [7, 3, 3.67]);
  const only = await get(`/v1/articles/${UNRATED}/stats`);
  assert.deepEqual([only.review_count, only.rated_count, only.average], [1, 0, null]);
}

// --- the page -----------------------------------------------------------------------------------

function watch(page) {
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (!['data:', 'blob:'].includes(url.protocol) && url.origin !== base) problems.push(`request to ${url}`);
  });
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
}

async function audit(page, label) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE);
  const { violations } = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  audits.push({ label, violations });
}

/** The review `reviewId`'s article in the widget `widget`. */
const reviewIn = (widget, reviewId) => widget.locator(`li[data-review-id="${reviewId}"] > article`);

/** Which review of the widget has focus (its id), if any. */
const focusedReview = (page) =>
  page.evaluate(() => {
    let element = document.activeElement;
    while (element?.shadowRoot?.activeElement) element = element.shadowRoot.activeElement;
    return element?.closest('li[data-review-id]')?.dataset.reviewId ?? null;
  });

/** What a screen reader is given for one review: its accessibility tree, as text. */
const spoken = (review) => review.ariaSnapshot();

async function widget(browser) {
  // axe goes in as an inline script, which the demo's policy refuses: the context bypasses CSP
  // (the second context below, with no audit, keeps it).
  const context = await browser.newContext({ viewport: { width: 800, height: 1400 }, locale: 'uk-UA', bypassCSP: true });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  watch(page);
  await page.goto(`${base}/demo/${THREAD}`);
  const uk = page.locator('#marginalia-reviews');
  await uk.locator('.marginalia__list > li').nth(6).waitFor();
  // An English widget beside it (data-lang, data-target), as widget.test.mjs does.
  await page.evaluate((articleId) => {
    const target = document.createElement('div');
    target.id = 'in-english';
    const script = document.createElement('script');
    Object.assign(script.dataset, { articleId, target: '#in-english', lang: 'en' });
    script.src = '/widget.js';
    document.body.append(target, script);
  }, THREAD);
  const en = page.locator('#in-english');
  await en.locator('.marginalia__list > li').nth(6).waitFor();

  // The summary: 7 reviews, the average of the 3 rated, a histogram of the 3.
  assert.equal(await en.locator('.marginalia__count').innerText(), '7 reviews');
  assert.equal(await en.locator('.marginalia__average').innerText(), '3.7');
  assert.equal(await en.locator('.marginalia__score [role=img]').getAttribute('aria-label'), 'Average rating: 3.7 out of 5');
  assert.deepEqual(await en.locator('.marginalia__histogram-count').allInnerTexts(), ['1', '1', '0', '1', '0']);
  const shares = await en
    .locator('.marginalia__bar > span')
    .evaluateAll((bars) => bars.map((bar) => Math.round(parseFloat(bar.style.getPropertyValue('--_share')))));
  assert.deepEqual(shares, [33, 33, 0, 33, 0], 'histogram bars are shares of the rated reviews');
  assert.equal(await uk.locator('.marginalia__count').innerText(), '7 відгуків');

  for (const [name, reviewId] of Object.entries(imported)) {
    const review = reviewIn(en, reviewId);
    if (name === 'hidden') {
      assert.equal(await review.count(), 0, 'the pending review is not listed');
      continue;
    }
    const rated = { taras: 4, iryna: 2 }[name];
    const text = await spoken(review);
    if (rated) {
      assert.equal(await review.getByRole('img').getAttribute('aria-label'), `Rated ${rated} out of 5`);
    } else {
      // No stars drawn, no image, and nothing read out about a rating.
      assert.equal(await review.locator('.marginalia__stars, [role=img]').count(), 0, `${name}: no stars`);
      assert.doesNotMatch(text, /rated|star|out of 5|оцінка|зір/i, `${name}: no rating text for screen readers`);
      assert.doesNotMatch(await review.innerText(), /★|0 stars|Rated/, `${name}: no rating on screen`);
    }
  }
  const noStars = await spoken(reviewIn(en, imported.anonymous));
  assert.match(noStars, /Does anyone know where the 2017 figure/);

  // Replies, in words: linked to the review answered where it is listed, plain words where not.
  const line = (widgetLocator, reviewId) => reviewIn(widgetLocator, reviewId).locator('.marginalia__to');
  const linkTo = (widgetLocator, reviewId) => line(widgetLocator, reviewId).getByRole('link');
  assert.equal(await linkTo(en, imported.mykola).innerText(), 'In reply to Taras');
  assert.equal(await linkTo(en, imported.iryna).innerText(), 'In reply to a reader');
  assert.equal(await line(en, imported.olha).innerText(), 'In reply to an earlier review');
  assert.equal(await linkTo(en, imported.olha).count(), 0, 'no link to a review that is not listed');
  assert.equal(await en.getByRole('link', { name: 'In reply to Taras', exact: true }).count(), 1, 'the link’s accessible name');
  assert.equal(await linkTo(uk, imported.mykola).innerText(), 'У відповідь на відгук: Taras');
  assert.equal(await linkTo(uk, imported.iryna).innerText(), 'У відповідь на відгук читача');
  assert.equal(await line(uk, imported.olha).innerText(), 'У відповідь на попередній відгук');
  for (const name of ['taras', 'anonymous']) assert.equal(await line(en, imported[name]).count(), 0, `${name} answers nothing`);
  // The reply line is a paragraph of the review, before its text: read out with it.
  assert.match(await spoken(reviewIn(en, imported.mykola)), /link "In reply to Taras"[\s\S]*Agreed, though the map caption/);

  // Set in, with a rule: not by colour alone (the words say it too).
  const indent = (reviewId) =>
    reviewIn(en, reviewId).evaluate((article) => {
      const style = getComputedStyle(article);
      return [parseFloat(style.marginInlineStart), parseFloat(style.borderInlineStartWidth)];
    });
  const [replyIndent, replyRule] = await indent(imported.mykola);
  assert.ok(replyIndent >= 16 && replyRule >= 1, `a reply is set in: ${replyIndent} px, rule ${replyRule} px`);
  assert.deepEqual(await indent(imported.taras), [0, 0], 'a review of the article is not');

  // The link's target is the review answered (the page's own anchors cannot reach into the shadow
  // root: the widget moves focus itself); Enter on it focuses Taras's review, the address stays.
  const link = linkTo(en, imported.mykola);
  const href = await link.getAttribute('href');
  assert.equal(href, `#${await reviewIn(en, imported.taras).getAttribute('id')}`);
  const address = page.url();
  await link.focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction(
    (target) => {
      let element = document.activeElement;
      while (element?.shadowRoot?.activeElement) element = element.shadowRoot.activeElement;
      return element?.closest('li')?.dataset.reviewId === target;
    },
    imported.taras,
  );
  assert.equal(await focusedReview(page), imported.taras);
  assert.equal(page.url(), address, 'no navigation');
  await linkTo(en, imported.iryna).click();
  assert.equal(await focusedReview(page), imported.anonymous, 'a click goes there too');

  await audit(page, 'widget, thread');
  mkdirSync('target/browser', { recursive: true });
  await en.screenshot({ path: 'target/browser/widget-thread.png' });
  await context.close();
}

/** An article whose only review has no stars: the count alone. */
async function unratedSummary(browser) {
  const context = await browser.newContext({ viewport: { width: 800, height: 1000 }, locale: 'uk-UA' });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  watch(page);
  await page.goto(`${base}/demo/${UNRATED}`);
  const uk = page.locator('#marginalia-reviews');
  await uk.locator('.marginalia__list > li').first().waitFor();
  assert.equal(await uk.locator('.marginalia__score').innerText(), '1 відгук', 'the count, no average');
  assert.equal(await uk.locator('.marginalia__score [role=img], .marginalia__average').count(), 0, 'no average, no stars');
  assert.ok(await uk.locator('.marginalia__histogram').isHidden(), 'no histogram of no ratings');
  await context.close();
}

/** Writing without stars: the widget sends no `rating`, the site decides. */
async function submitWithoutStars(browser) {
  const context = await browser.newContext({ viewport: { width: 800, height: 1400 }, locale: 'en-US' });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  watch(page);
  const posted = [];
  page.on('request', (request) => {
    if (request.method() !== 'GET' && new URL(request.url()).pathname.startsWith('/v1/')) posted.push(request.postDataJSON());
  });
  await page.goto(`${base}/demo/${UNRATED}`);
  const uk = page.locator('#marginalia-reviews');
  await uk.locator('.marginalia__list > li').first().waitFor();

  // Allowed (the site's unrated_reviews is on): stored, listed without stars, counted.
  await uk.locator('textarea').fill('Без зірок: просто дякую за карту.');
  const created = page.waitForResponse((response) => response.request().method() === 'POST' && response.url().endsWith('/reviews'));
  await uk.locator('.marginalia__submit').click();
  const answer = await (await created).json();
  assert.equal((await created).status(), 201);
  assert.ok(!('rating' in posted.at(-1)), `no rating sent: ${JSON.stringify(posted.at(-1))}`);
  assert.equal(answer.rating, null);
  const mine = reviewIn(uk, answer.id);
  await mine.waitFor();
  assert.equal(await mine.locator('.marginalia__stars, [role=img]').count(), 0, 'the new review has no stars');
  await uk.locator('.marginalia__count', { hasText: '2 відгуки' }).waitFor();

  // Edited again without stars: no star is chosen for it, and none is sent.
  await uk.getByRole('button', { name: 'Змінити відгук' }).click();
  assert.equal(await uk.locator('input[type=radio]:checked').count(), 0, 'no star chosen for an unrated review');
  await uk.locator('textarea').fill('Без зірок: дякую за карту, і за масштаб.');
  const saved = page.waitForResponse((response) => response.request().method() === 'PATCH');
  await uk.getByRole('button', { name: 'Зберегти зміни' }).click();
  assert.equal((await saved).status(), 200);
  assert.ok(!('rating' in posted.at(-1)), 'no rating sent with the edit');
  await mine.getByText('і за масштаб').waitFor();
  assert.equal(await mine.locator('.marginalia__stars').count(), 0);

  // Required again: the service's refusal shows under the stars, as any field error.
  await allowUnrated(false);
  await page.reload();
  await uk.locator('.marginalia__list > li').first().waitFor();
  await uk.locator('textarea').fill('Знову без зірок.');
  const refused = page.waitForResponse((response) => response.request().method() === 'POST' && response.url().endsWith('/reviews'));
  await uk.locator('.marginalia__submit').click();
  assert.equal((await refused).status(), 422);
  assert.ok(!('rating' in posted.at(-1)), 'still no rating sent: the service decides');
  const error = uk.locator('.marginalia__rating .marginalia__error');
  await error.waitFor();
  assert.equal(await error.innerText(), 'Оберіть оцінку від 1 до 5 зірок.');
  assert.equal(await uk.locator('input[type=radio][aria-invalid=true]').count(), 5);
  await context.close();
}

/** Signs in from the sign-in page with the keyboard: focus is already in the key field. */
async function signIn(page, key) {
  await page.getByLabel('API key').waitFor();
  await page.keyboard.press('Control+A');
  await page.keyboard.type(key);
  await page.keyboard.press('Enter');
}

async function consoleViews(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  watch(page);
  const card = (reviewId) => page.locator(`.card[data-id="${reviewId}"]`);

  // The queue (pending): the held reply has no stars and answers a review not in the list.
  await page.goto(`${base}/console/#/queue/pending?article_id=${THREAD}`);
  await signIn(page, keys.moderator);
  await page.getByRole('heading', { name: 'Moderation queue' }).waitFor();
  await card(imported.hidden).waitFor();
  const held = card(imported.hidden);
  assert.equal(await held.locator('.card__top .stars').innerText(), 'No rating');
  assert.equal(await held.locator('.card__top [role=img]').count(), 0, 'no stars image');
  const heldLink = held.locator('.card__in-reply a');
  assert.equal(await heldLink.innerText(), `In reply to review …${imported.taras.slice(-8)}`);
  assert.equal(await heldLink.getAttribute('href'), `#/articles/${THREAD}?review=${imported.taras}`);

  // The article view: its published reviews, the stats of the rated ones.
  await page.goto(`${base}/console/#/articles/${THREAD}?status=published`);
  await card(imported.mykola).waitFor();
  assert.equal(await card(imported.mykola).locator('.card__top .stars').innerText(), 'No rating');
  assert.equal(await card(imported.taras).locator('.card__top [role=img]').getAttribute('aria-label'), 'Rated 4 out of 5');
  assert.equal(await card(imported.mykola).locator('.card__in-reply').innerText(), 'In reply to Taras');
  assert.equal(await card(imported.iryna).locator('.card__in-reply a').innerText(), 'In reply to Anonymous reader');
  assert.equal(await card(imported.olha).locator('.card__in-reply a').innerText(), `In reply to review …${imported.hidden.slice(-8)}`);
  // Its link makes the card answered the current one, in place.
  await card(imported.mykola).getByRole('link', { name: 'In reply to Taras' }).click();
  await page.waitForFunction((target) => document.activeElement?.closest('.card')?.dataset.id === target, imported.taras);
  assert.ok(page.url().endsWith(`#/articles/${THREAD}?status=published`), `the view stays: ${page.url()}`);

  const score = page.locator('.score');
  assert.equal(await score.locator('.score__average').innerText(), '3.67');
  assert.equal(await score.locator('.sr-only').innerText(), 'Average rating 3.67 out of 5');
  assert.deepEqual(await score.locator('.score__count').allInnerTexts(), ['7 reviews published', '3 with a rating']);
  assert.deepEqual(await page.locator('.bars:not(.bars--languages) .bar__count').allInnerTexts(), ['1', '1', '0', '1', '0']);
  // The chart's caption: the average weighs each day by its rated reviews (a day's review count
  // would give (4·3 + 2·2 + 5·2) / 7 = 3.71).
  await page.locator('svg.chart__svg circle.chart__point').first().waitFor();
  assert.match(await page.locator('.chart figcaption').innerText(), /7 published reviews, average rating 3\.67\./);
  await audit(page, 'console, article with a thread');
  await page.screenshot({ path: 'target/browser/console-thread.png', fullPage: true });

  // An article whose reviews have no stars: no average, "No rating" in words.
  await page.goto(`${base}/console/#/articles/${UNRATED}?status=published`);
  await page.locator('.score .score__count').first().waitFor();
  assert.equal(await page.locator('.score .stars').innerText(), 'No rating');
  assert.equal(await page.locator('.score .score__average, .score [role=img]').count(), 0);
  await context.close();
}

// --- run ------------------------------------------------------------------------------------------

await seed();
const browser = await launchChromium();
try {
  await widget(browser);
  await unratedSummary(browser);
  await submitWithoutStars(browser);
  await consoleViews(browser);
} finally {
  await browser.close();
  await allowUnrated(false);
}

const BLOCKING_IMPACTS = ['moderate', 'serious', 'critical'];
let blocking = 0;
for (const { label, violations } of audits) {
  const serious = violations.filter((violation) => BLOCKING_IMPACTS.includes(violation.impact));
  blocking += serious.length;
  console.log(`axe (${label}): ${violations.length} violated (${serious.length} moderate, serious or critical)`);
  for (const violation of violations) {
    console.log(`  ${violation.impact} ${violation.id}: ${violation.help}`);
    for (const node of violation.nodes.slice(0, 5)) console.log(`    ${node.target.join(' ')}: ${node.failureSummary.replaceAll('\n', ' ')}`);
  }
}
assert.deepEqual(problems, [], 'CSP refusals, foreign requests or page errors');
assert.equal(blocking, 0, 'moderate, serious or critical accessibility violations');
console.log(`threads: every check passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
