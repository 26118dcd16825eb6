// The editors' console in Debian's chromium, against the service tests/browser/run.sh starts (with
// a banned term configured and private webhook targets allowed). It proves, each time through the
// public API as well as on the screen, that:
// - no key, an unknown key and a cms key cannot sign in, and the console says why; a moderator
//   signs in with the keyboard;
// - a review a rule held is in the queue with its reason in words and the author's other reviews;
//   approved with the keyboard only, it is in the public list and the article's stats;
// - three reviews selected with x and rejected with r are rejected; one more rejected and undone
//   with u is pending again, and the three stay rejected;
// - the queue is live (the moderators' stream, GET /v1/moderation/live, read with fetch and the key
//   in its header): on the pending tab, with a card focused and selected, a held review posted
//   through the API appears at the end without a reload and without a read of the queue, the
//   counts follow, and focus, selection and scroll position stay; a review another editor
//   rejects leaves the list by itself;
// - a reply written with e is in the public review (shortcut letters typed in it stay text);
// - the article view draws the chart (SVG bars and points), the histogram and the language mix,
//   and its settings change the article;
// - the audit log filters and downloads CSV; the help overlay keeps focus and closes with Esc;
// - while the database is down (a 503, routed by the test) the console says it is retrying;
// - a key revoked while in use sends the editor back to sign-in with the reason, by itself (its
//   stream ends with `closing: revoked`), to where it was after signing in again; a moderator sees
//   that integrations need an admin key; an admin sees endpoints and deliveries, redelivers,
//   disables and enables, and rotates the secret (shown once);
// - Ukrainian labels after switching, remembered across a reload, with <html lang="uk">;
// - on the Flagged tab the reader's flag (reason and note) is on the card, and `a` keeps the
//   review published and clears its flags (public, out of the tab, `dismiss_flags` in the log);
// - a review id in the audit log is whole and opens that review in its article's list;
// - at 1440×900 the compact layout (remembered across a reload) shows at least six reviews, and
//   the author's other reviews fold away on a card the editor has left;
// - at 360 px the audit log's status pills fit their words, "→" stays beside the status it points
//   to, review ids are whole, linked and inside their cells, and no wrapped line of a card's or
//   the article's details starts with a separator;
// - the chart's check holds whatever the day (a run may cross midnight UTC);
// - axe-core finds no moderate, serious or critical violation on any view (sign-in, queue, help,
//   article, log, integrations), light at 1280 px, dark at 360 px and compact at 1440 px, and no
//   view scrolls sideways at 360 px;
// - under the console's CSP nothing is refused, no request leaves the origin, no cookie is set,
//   and the key lives in sessionStorage only;
// - readers the newsroom knows: on a site whose login signs HS256 reader tokens (set up here), a
//   signed-in reader's review shows "Verified" and their badge on its card, whose link (naming the
//   reader's id, which needs percent-encoding) opens the reader view from the keyboard: counts by
//   status, suspension, record and newest reviews (acted on with the queue's keys). A suspension
//   without a reason shows the API's field error beside the field; with one, for 7 days, it is
//   shown and the reader's next submission is a 403; changed to for good, then lifted, the view
//   follows each time and the reader may write again. axe and 360 px dark, and Ukrainian.
// With WRITE_SCREENSHOT=1 it refreshes docs/console-queue.png, docs/console-article.png and
// docs/console-compact.png.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { launchChromium } from './launch.mjs';

const require = createRequire(import.meta.url);
const env = process.env;
const base = env.MARGINALIA_URL;
const article = env.ARTICLE_ID;
const premoderated = env.PREMODERATED_ARTICLE_ID;
const keys = { cms: env.CMS_KEY, moderator: env.MODERATOR_KEY, admin: env.ADMIN_KEY, revoked: env.REVOKED_KEY };
assert.ok(base && article && premoderated && Object.values(keys).every(Boolean) && env.REVOKED_KEY_ID, 'run me through tests/browser/run.sh');
const console_ = `${base}/console/`;
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const started = Date.now();

const problems = [];
const audits = [];
const overflow = [];
// The moderators' live stream: the status of every opening, and reads of the queue (which a live
// arrival must not need), as the page made them.
const streams = [];
const queueReads = [];

// --- the API, as a script would use it ---------------------------------------------------------

async function call(path, { key, method = 'GET', body } = {}) {
  const response = await fetch(base + path, {
    method,
    headers: { ...(key ? { Authorization: `Bearer ${key}` } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const submit = async (articleId, review) => (await call(`/v1/articles/${articleId}/reviews`, { method: 'POST', body: review })).id;
const queueIds = async (status, articleId) =>
  (await call(`/v1/moderation/queue?status=${status}&article_id=${articleId}&limit=100`, { key: keys.moderator })).items.map((item) => item.id);

// --- the page -----------------------------------------------------------------------------------

/** Records every request off the origin, CSP refusal and page error on `problems`. */
async function watch(context, page) {
  await context.addInitScript(() =>
    window.addEventListener('securitypolicyviolation', (event) =>
      console.error(`Content Security Policy violation: ${event.violatedDirective} ${event.blockedURI}`),
    ),
  );
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (!['data:', 'blob:'].includes(url.protocol) && url.origin !== base) problems.push(`request to ${url}`);
  });
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('response', (response) => {
    const { pathname, search } = new URL(response.url());
    if (pathname.endsWith('/v1/moderation/live')) {
      streams.push(response.status());
      // The key goes in the header, never in the address.
      if (search || Object.values(keys).some((key) => response.url().includes(key))) problems.push(`a key in ${response.url()}`);
    }
    if (pathname.endsWith('/v1/moderation/queue')) queueReads.push(response.url());
  });
}

/** Resolves once a stream has opened (answered 200) after the first `after` openings. */
async function streamOpen(after = 0) {
  const deadline = Date.now() + 15_000;
  while (!streams.slice(after).includes(200)) {
    assert.ok(Date.now() < deadline, `the moderators' stream did not open: ${JSON.stringify(streams)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** axe-core on the whole page. It is evaluated through the DevTools protocol, which the page's
 * CSP does not govern, so the console is audited under its real policy. */
async function audit(page, label) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE);
  const { violations } = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  audits.push({ label, violations });
}

/** Records the view when the page is wider than the viewport (horizontal scrolling). */
async function noSideways(page, label) {
  const [scroll, width] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  if (scroll > width) overflow.push(`${label}: ${scroll} px wide in ${width} px`);
}

const focusedCard = (page) => page.evaluate(() => document.activeElement.closest('.card')?.dataset.id ?? null);
const toast = (page, text) => page.locator('#toast', { hasText: text }).waitFor();

/** Signs in from the sign-in page with the keyboard: focus is already in the key field. */
async function signIn(page, key) {
  await page.getByLabel('API key').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.type), 'password', 'focus is in the key field');
  await page.keyboard.press('Control+A');
  await page.keyboard.type(key);
  await page.keyboard.press('Enter');
}

/** Presses j until the review `id` has focus (the queue is in a known order, but not a fixed one). */
async function goTo(page, id) {
  const ids = await page.locator('.card').evaluateAll((cards) => cards.map((card) => card.dataset.id));
  const target = ids.indexOf(id);
  assert.ok(target >= 0, `review ${id} is listed`);
  let at = ids.indexOf(await focusedCard(page));
  while (at !== target) {
    await page.keyboard.press(at < target ? 'j' : 'k');
    at += at < target ? 1 : -1;
  }
  assert.equal(await focusedCard(page), id);
}

async function screenshot(page, name) {
  mkdirSync('target/browser', { recursive: true });
  const file = `target/browser/console-${name}.png`;
  await page.screenshot({ path: file });
  if (env.WRITE_SCREENSHOT === '1') copyFileSync(file, `docs/console-${name}.png`);
}

// --- the story ----------------------------------------------------------------------------------

async function seed(receiverUrl) {
  // An endpoint first: events are only written while one is enabled, and the deliveries give the
  // integrations view something to show.
  const endpoint = await call('/v1/webhook-endpoints', {
    key: keys.admin,
    method: 'POST',
    body: { url: receiverUrl, description: 'Newsroom CMS: reader reviews on article pages' },
  });
  const fixtures = JSON.parse(readFileSync('tests/fixtures/reviews-valid.json', 'utf8'));
  const published = [];
  for (const review of fixtures) published.push(await submit(article, review));
  for (const review of fixtures.slice(1, 5)) await submit(premoderated, review);
  const ids = {
    endpoint: endpoint.id,
    flagged: published[2],
    // A false positive: the banned word is quoted, not meant. Its author wrote the first fixture.
    caught: await submit(article, {
      rating: 5,
      title: 'Чесний текст',
      body: 'Під статтею автора називають «шахрай», але текст чесний: цифри, джерела, обережні висновки.',
      author_name: 'Олена К.',
      author_email: 'olena.k@example.com',
      language: 'uk',
    }),
    links: [],
  };
  for (const [index, domain] of ['vpn', 'deals', 'casino'].entries()) {
    ids.links.push(
      await submit(article, {
        rating: 5,
        body: `Best ${domain} offer ${index}: https://${domain}.example https://${domain}.example/promo www.${domain}-promo.example`,
        author_name: 'Promo',
      }),
    );
  }
  ids.shouting = await submit(article, { rating: 1, body: 'ЦЕ ЖАХЛИВА СТАТТЯ, ВСЕ БРЕХНЯ І ПРОПАГАНДА' });
  await call(`/v1/reviews/${ids.flagged}/flags`, { method: 'POST', body: { reason: 'misinformation', note: 'Wrong date' } });
  return ids;
}

async function signInRefusals(page) {
  await page.goto(console_);
  await page.getByRole('heading', { name: 'Sign in to the editors’ console' }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
  await audit(page, 'sign-in');
  const alert = page.locator('form [role=alert]');
  await page.keyboard.press('Enter');
  await alert.filter({ hasText: 'An API key is needed to sign in' }).waitFor();
  assert.equal(await page.getByLabel('API key').getAttribute('aria-invalid'), 'true');
  await page.keyboard.type('mrg_not-a-key-at-all');
  await page.keyboard.press('Enter');
  await alert.filter({ hasText: 'unknown or has been revoked' }).waitFor();
  await page.getByLabel('API key').fill(keys.cms);
  await page.keyboard.press('Enter');
  await alert.filter({ hasText: 'This key has scope cms; the console needs a moderator or admin key' }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'a refused key is not kept');
  assert.equal(await page.locator('nav.nav').count(), 0, 'no console before sign-in');
}

async function moderate(page, ids) {
  await signIn(page, keys.moderator);
  await page.getByRole('heading', { name: 'Moderation queue' }).waitFor();
  const caught = page.locator(`.card[data-id="${ids.caught}"]`);
  await caught.waitFor();
  assert.deepEqual(await caught.locator('.card__reasons li').allInnerTexts(), ['Contains a banned term']);
  assert.match(await caught.innerText(), /olena\.k@example\.com/);
  assert.match(await caught.locator('.card__signals a').innerText(), /Pushed to the Brink Again/, 'the article title, linked');
  const links = page.locator(`.card[data-id="${ids.links[0]}"] .card__reasons li`);
  assert.deepEqual(await links.allInnerTexts(), ['Too many links']);
  const counts = await call('/v1/moderation/counts', { key: keys.moderator });
  await page.locator('.tab[data-tab="pending"] .tab__count', { hasText: String(counts.pending) }).waitFor();

  // This article's queue only (the filter goes to the address, and the API's article_id).
  // The hash changes before the view redraws: wait for the filtered read, not for any card (the
  // whole queue's cards could still be there).
  const filtered = page.waitForResponse((response) => {
    const url = new URL(response.url());
    return url.pathname.endsWith('/v1/moderation/queue') && url.searchParams.get('article_id') === article;
  });
  await page.getByLabel('Article id').fill(article);
  await page.keyboard.press('Enter');
  await page.waitForFunction((id) => location.hash === `#/queue/pending?article_id=${id}`, article);
  assert.equal((await filtered).status(), 200);
  await page.locator(`.card[data-id="${ids.shouting}"]`).waitFor();
  const shown = await page.locator('.card').evaluateAll((cards) => cards.map((card) => card.dataset.id));
  assert.deepEqual(shown, [ids.caught, ...ids.links, ids.shouting], 'the article’s held reviews, oldest first');

  // Keyboard only from here: j to the held review, whose author's other reviews then show.
  await goTo(page, ids.caught);
  const other = caught.locator('.card__author li');
  await other.first().waitFor();
  assert.equal(await other.count(), 1, 'the author’s other review');
  assert.match(await other.innerText(), /Published[\s\S]*Текст добре показує/);
  await screenshot(page, 'queue');
  await audit(page, 'queue');

  const before = (await call(`/v1/articles/${article}`)).stats;
  await page.keyboard.press('a');
  await toast(page, 'Approved 1 review');
  await caught.waitFor({ state: 'detached' });
  assert.equal(await focusedCard(page), ids.links[0], 'focus moves on to the next review');
  const listed = await call(`/v1/articles/${article}/reviews?limit=100`);
  assert.ok(listed.items.some((item) => item.id === ids.caught), 'approved: in the public list');
  const after = (await call(`/v1/articles/${article}`)).stats;
  assert.equal(after.review_count, before.review_count + 1, 'approved: counted');
  assert.equal(after.histogram['5'], before.histogram['5'] + 1, 'approved: its five stars counted');

  // Three selected with x, rejected with r.
  for (const [index, id] of ids.links.entries()) {
    if (index) await page.keyboard.press('j');
    assert.equal(await focusedCard(page), id);
    await page.keyboard.press('x');
  }
  await page.locator('.bulk__count', { hasText: '3 selected' }).waitFor();
  await page.keyboard.press('r');
  await toast(page, 'Rejected 3 reviews');
  const rejected = await queueIds('rejected', article);
  for (const id of ids.links) assert.ok(rejected.includes(id), `bulk: ${id} rejected`);

  // One more rejected, then undone with u.
  assert.equal(await focusedCard(page), ids.shouting);
  await page.keyboard.press('r');
  await toast(page, 'Rejected 1 review');
  assert.ok((await queueIds('rejected', article)).includes(ids.shouting));
  await page.keyboard.press('u');
  await toast(page, 'Undone.');
  await page.locator(`.card[data-id="${ids.shouting}"]`).waitFor();
  assert.ok((await queueIds('pending', article)).includes(ids.shouting), 'undone: pending again');
  const stillRejected = await queueIds('rejected', article);
  for (const id of ids.links) assert.ok(stillRejected.includes(id), 'undo touched only the last action');

  // The help overlay: a modal dialog that keeps focus and closes with Esc.
  await page.locator(`.card[data-id="${ids.shouting}"]`).focus();
  await page.keyboard.press('?');
  const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  await help.waitFor();
  assert.match(await help.innerText(), /Approve/);
  for (let step = 0; step < 4; step += 1) {
    await page.keyboard.press('Tab');
    assert.ok(await help.evaluate((dialog) => dialog.contains(document.activeElement)), 'focus stays in the dialog');
  }
  await audit(page, 'help overlay');
  await page.keyboard.press('Escape');
  await help.waitFor({ state: 'detached' });
  assert.equal(await focusedCard(page), ids.shouting, 'focus returns to the review');

  // The live queue. On the whole pending queue, the editor is on a card and has selected it; the
  // page is scrolled. A review held for a pre-moderated article arrives through the API.
  await page.getByRole('button', { name: 'Clear' }).click();
  await page.waitForFunction(() => location.hash === '#/queue/pending');
  const shouting = page.locator(`.card[data-id="${ids.shouting}"]`);
  await shouting.waitFor();
  await shouting.focus();
  await page.keyboard.press('x');
  await page.locator('.bulk__count', { hasText: '1 selected' }).waitFor();
  await page.evaluate(() => window.scrollTo(0, 120));
  await streamOpen();
  const place = () =>
    page.evaluate(() => ({
      focused: document.activeElement.closest('.card')?.dataset.id ?? null,
      selected: [...document.querySelectorAll('.card--selected')].map((card) => card.dataset.id),
      checked: [...document.querySelectorAll('.card__checkbox:checked')].length,
      scroll: Math.round(window.scrollY),
    }));
  const kept = await place();
  assert.deepEqual([kept.focused, kept.selected, kept.checked], [ids.shouting, [ids.shouting], 1]);
  assert.ok(kept.scroll > 0, 'the page is scrolled');
  await page.evaluate(() => (window.notReloaded = true));
  const cardCount = await page.locator('.card').count();
  const reads = queueReads.length;
  assert.ok(reads > 0, 'the queue reads are seen');
  const fresh = await submit(premoderated, {
    rating: 4,
    body: 'Щойно прочитала: бракує мапи, але пояснення про Кунар дуже доречне.',
    author_name: 'Марта',
  });
  assert.ok((await queueIds('pending', premoderated)).includes(fresh), 'the pre-moderated article held it');
  const { pending } = await call('/v1/moderation/counts', { key: keys.moderator });
  // Well within the 30 s of the poll that stands in while the stream is down.
  await page.locator(`.card[data-id="${fresh}"]`).waitFor({ timeout: 10_000 });
  assert.equal(queueReads.length, reads, 'it came on the stream: the queue was not read again');
  assert.ok(await page.evaluate(() => window.notReloaded), 'no reload');
  await page.locator('.tab[data-tab="pending"] .tab__count', { hasText: new RegExp(`^${pending}$`) }).waitFor();
  await page.locator('#nav-pending', { hasText: new RegExp(`^${pending}$`) }).waitFor();
  const order = await page.locator('.card').evaluateAll((cards) => cards.map((card) => card.dataset.id));
  assert.equal(order.length, cardCount + 1, 'one card more');
  assert.equal(order.at(-1), fresh, 'at the end of the queue (oldest first), shifting nothing above');
  assert.deepEqual(await place(), kept, 'focus, selection and scroll position are unchanged');
  assert.equal(await page.locator('.bulk__count').innerText(), '1 selected');
  await page.locator('#announcer', { hasText: '1 new review arrived.' }).waitFor();
  // Another editor rejects it: it leaves by itself, and the counts follow; the place stays.
  await call('/v1/moderation/actions', { key: keys.admin, method: 'POST', body: { action: 'reject', review_ids: [fresh], note: 'browser test' } });
  await page.locator(`.card[data-id="${fresh}"]`).waitFor({ state: 'detached', timeout: 10_000 });
  await page.locator('.tab[data-tab="pending"] .tab__count', { hasText: new RegExp(`^${pending - 1}$`) }).waitFor();
  assert.deepEqual(await place(), kept, 'focus, selection and scroll position are still unchanged');
  assert.equal(queueReads.length, reads, 'still without reading the queue');
  await page.keyboard.press('x');
  await page.locator('.bulk__count', { hasText: '0 selected' }).waitFor();

  // The flagged tab, and a reply with e.
  await page.getByRole('link', { name: /^Flagged/ }).click();
  const flagged = page.locator(`.card[data-id="${ids.flagged}"]`);
  await flagged.waitFor();
  assert.match(await flagged.locator('.card__signals').innerText(), /1 flag/);
  // Why the reader flagged it, and what they wrote.
  assert.deepEqual(await flagged.locator('.card__flags .chip--flag').allInnerTexts(), ['Misinformation']);
  assert.equal(await flagged.locator('.card__flags .flag__note').innerText(), 'Wrong date');
  await flagged.focus();
  await page.keyboard.press('e');
  // Typed into the reply field, the letters of the shortcuts (a, s, u, x, h…) are only text.
  const reply = 'Дякуємо! Дату виправлено: напад стався 12 травня 2020 року. Thanks, the date is fixed (see the update).';
  await page.keyboard.type(reply);
  assert.equal(await page.getByLabel(/Reply as the newsroom/).inputValue(), reply);
  await page.keyboard.press('Control+Enter');
  await flagged.locator('.reply__body', { hasText: reply }).waitFor();
  assert.equal(await page.locator('.bulk__count').innerText(), '0 selected', 'x selected nothing');
  const { reply: published, status } = await call(`/v1/reviews/${ids.flagged}`);
  assert.equal(published.body, reply, 'the reply is public');
  assert.equal(status, 'published', 'a, s and h did nothing while typing');
  return flagged;
}

async function articleView(page, flaggedCard) {
  await flaggedCard.locator('.card__signals a').click();
  await page.locator('h1', { hasText: 'Pushed to the Brink Again' }).waitFor();
  const points = page.locator('svg.chart__svg circle.chart__point');
  await points.first().waitFor();
  const bars = await page.locator('svg.chart__svg rect.chart__bar').evaluateAll((rects) => rects.map((rect) => Number(rect.dataset.count)));
  assert.equal(bars.length, 30, 'a bar per day');
  const stats = (await call(`/v1/articles/${article}`)).stats;
  // Whatever the day (the run may cross midnight UTC), every review of this run is in the window.
  assert.equal(
    bars.reduce((sum, count) => sum + count, 0),
    stats.review_count,
    'the last 30 days’ bars count every published review',
  );
  assert.match(await page.locator('.chart figcaption').innerText(), new RegExp(`${stats.review_count} published reviews`));
  const histogram = await page.locator('.bars:not(.bars--languages) .bar__count').allInnerTexts();
  assert.deepEqual(histogram, ['5', '4', '3', '2', '1'].map((rating) => String(stats.histogram[rating])));
  const languages = await page.locator('.bars--languages .bar__label').allInnerTexts();
  assert.ok(languages.includes('Ukrainian (uk)') && languages.includes('English (en)'), `language mix: ${languages}`);
  await page.locator('.tab[data-status="published"][aria-current="page"]').waitFor();
  await page.locator('.article__reviews .card').first().waitFor();
  await screenshot(page, 'article');
  await audit(page, 'article');

  // Settings go through PATCH /v1/articles/{id}.
  await page.getByLabel('Moderation', { exact: true }).selectOption('pre');
  await page.locator('.settings [role=status]', { hasText: 'Saved.' }).waitFor();
  assert.equal((await call(`/v1/articles/${article}`)).moderation, 'pre');
  await page.getByLabel('Open for new reviews').uncheck();
  await page.waitForFunction(() => !document.querySelector('.settings input[type=checkbox]').disabled);
  assert.equal((await call(`/v1/articles/${article}`)).reviews_open, false);
  await page.getByLabel('Open for new reviews').check();
  await page.getByLabel('Moderation', { exact: true }).selectOption('');
  await page.waitForFunction(() => !document.querySelector('.settings select').disabled);
  const restored = await call(`/v1/articles/${article}`);
  assert.equal(restored.reviews_open, true);
  assert.equal(restored.moderation, null, 'back to the site’s mode');
}

/** On the Flagged tab, `a` keeps a flagged review published and clears its flags. */
async function keepPublished(page, ids) {
  await page.evaluate(() => (location.hash = '#/queue/flagged'));
  const flagged = page.locator(`.card[data-id="${ids.flagged}"]`);
  await flagged.waitFor();
  await page.keyboard.press('?');
  const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  assert.match(await help.innerText(), /keep it published and clear its flags/);
  await page.keyboard.press('Escape');
  await help.waitFor({ state: 'detached' });
  // The widget's test, run before this one on the same service, may have flagged reviews of its
  // own: the tab's count falls by one, whatever it was.
  const before = (await call('/v1/moderation/counts', { key: keys.moderator })).flagged;
  await flagged.focus();
  await page.keyboard.press('a');
  await toast(page, 'Kept 1 review published and cleared the flags');
  await flagged.waitFor({ state: 'detached' });
  await page.locator('.tab[data-tab="flagged"] .tab__count', { hasText: new RegExp(`^${before - 1}$`) }).waitFor();
  assert.equal((await call('/v1/moderation/counts', { key: keys.moderator })).flagged, before - 1);
  const review = await call(`/v1/reviews/${ids.flagged}`);
  assert.equal(review.status, 'published', 'still public');
  const tab = await call('/v1/moderation/queue?status=published&flagged=true', { key: keys.moderator });
  assert.ok(!tab.items.some((item) => item.id === ids.flagged), 'no longer flagged');
  const log = await call(`/v1/moderation/log?review_id=${ids.flagged}&limit=1`, { key: keys.moderator });
  assert.deepEqual(
    [log.items[0].action, log.items[0].from_status, log.items[0].to_status, log.items[0].actor],
    ['dismiss_flags', 'published', 'published', 'desk-olha'],
  );
}

async function auditLog(page) {
  await page.getByRole('link', { name: 'Audit log' }).click();
  await page.getByRole('heading', { name: 'Audit log' }).waitFor();
  await page.locator('table.log tbody tr').first().waitFor();
  await audit(page, 'log');
  await page.getByLabel('Action').selectOption('reject');
  await page.getByLabel('Who (key name)').fill('desk-olha');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForFunction(() => location.hash.includes('action=reject'));
  // The hash changes before the view reloads: wait for the filtered rows, not any rows.
  await page.waitForFunction(() => {
    const cells = [...document.querySelectorAll('table.log tbody td[data-label="Action"]')];
    return cells.length > 0 && cells.every((cell) => cell.innerText.startsWith('Rejected'));
  });
  const actions = await page.locator('table.log tbody td[data-label="Action"]').allInnerTexts();
  assert.equal(actions.length, 4, 'three bulk rejections and the one undone');
  assert.ok(actions.every((text) => text.startsWith('Rejected')));
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
  const csv = readFileSync(await download.path(), 'utf8').trim().split('\n');
  assert.match(csv[0], /actor/, 'a CSV header');
  assert.equal(csv.length, 5, 'the header and the four filtered entries');
  assert.ok(csv.slice(1).every((line) => line.includes('desk-olha') && line.includes('reject')));
  assert.match(download.suggestedFilename(), /\.csv$/);

  // A review's id is shown whole and opens the review among its article's reviews.
  const idLink = page.locator('table.log tbody tr .log__review-id').first();
  const reviewId = await idLink.innerText();
  assert.match(reviewId, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'the whole id');
  await idLink.click();
  const opened = page.locator(`.card--current[data-id="${reviewId}"]`);
  await opened.waitFor();
  assert.equal(await focusedCard(page), reviewId, 'the linked review has focus');
  // In the status it has now (the newest entry of its log says which).
  const latest = await call(`/v1/moderation/log?review_id=${reviewId}&limit=1`, { key: keys.moderator });
  await page.locator(`.tab[data-status="${latest.items[0].to_status}"][aria-current="page"]`).waitFor();
  await page.goBack();
  await page.getByRole('heading', { name: 'Audit log' }).waitFor();
  await page.locator('table.log tbody tr').first().waitFor();
}

/** A database outage: the API answers 503 (here for one request, routed by the test), and the
 * console says it is retrying, retries, and clears the message once an answer comes. */
async function outage(page) {
  let failures = 1;
  await page.route('**/v1/moderation/log?*', (route) =>
    failures-- > 0
      ? route.fulfill({
          status: 503,
          contentType: 'application/problem+json',
          body: JSON.stringify({ type: 'urn:marginalia:problem:unavailable', title: 'Service unavailable', status: 503, detail: 'the database is unavailable' }),
        })
      : route.continue(),
  );
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.locator('#outage', { hasText: 'The database is unavailable; retrying' }).waitFor();
  await page.locator('#outage:empty').waitFor({ state: 'attached' });
  await page.locator('table.log tbody tr').first().waitFor();
  await page.unroute('**/v1/moderation/log?*');
}

async function moderatorIntegrations(page) {
  await page.getByRole('link', { name: 'Integrations' }).click();
  await page.getByText('Webhook endpoints need an admin key').waitFor();
  await audit(page, 'integrations (moderator)');
}

async function revocation(page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in to the editors’ console' }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'sign-out forgets the key');
  const opened = streams.length;
  await page.keyboard.type(keys.revoked);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Moderation queue' }).waitFor();
  await page.getByRole('link', { name: 'Audit log' }).click();
  await page.getByRole('heading', { name: 'Audit log' }).waitFor();
  await page.locator('table.log tbody tr').first().waitFor();
  await streamOpen(opened);
  execFileSync(env.MARGINALIA_BIN, ['keys', 'revoke', env.REVOKED_KEY_ID], { stdio: 'ignore' });
  // No call of the editor's meets the 401: the key's stream ends with `closing: revoked`.
  await page.locator('.notice', { hasText: 'no longer accepts the key (the key was revoked)' }).waitFor({ timeout: 15_000 });
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
}

async function adminIntegrations(page, ids) {
  await signIn(page, keys.admin);
  // Back where the revoked session was.
  await page.getByRole('heading', { name: 'Audit log' }).waitFor();
  await page.getByRole('link', { name: 'Integrations' }).click();
  const card = page.locator(`[data-endpoint="${ids.endpoint}"]`);
  await card.waitFor();
  assert.match(await card.innerText(), /Enabled/);
  await card.getByRole('button', { name: 'Show deliveries' }).click();
  const delivered = card.locator('.delivery', { hasText: 'Delivered' });
  await delivered.first().waitFor({ timeout: 15_000 });
  assert.match(await delivered.first().innerText(), /1 attempt[\s\S]*\d+ ms[\s\S]*HTTP 204/);
  await delivered.first().getByRole('button', { name: 'Redeliver' }).click();
  await toast(page, 'Queued for another attempt.');
  await audit(page, 'integrations');

  await card.getByRole('button', { name: 'Disable' }).click();
  await card.getByRole('button', { name: 'Enable' }).waitFor();
  assert.equal((await call(`/v1/webhook-endpoints/${ids.endpoint}`, { key: keys.admin })).enabled, false);
  await card.getByRole('button', { name: 'Enable' }).click();
  await card.getByRole('button', { name: 'Disable' }).waitFor();
  assert.equal((await call(`/v1/webhook-endpoints/${ids.endpoint}`, { key: keys.admin })).enabled, true);

  await card.getByRole('button', { name: 'Rotate secret' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Rotate secret' }).click();
  const secret = card.getByLabel('New signing secret');
  await secret.waitFor();
  assert.match(await secret.inputValue(), /^whsec_/);
  assert.ok((await call(`/v1/webhook-endpoints/${ids.endpoint}`, { key: keys.admin })).previous_secret_valid_until);
  await audit(page, 'integrations, new secret');
}

/** The site switcher of an installation-wide key: every site, and the chosen one's queue. */
async function siteSwitcher(page) {
  const switcher = page.getByLabel('Site', { exact: true });
  assert.deepEqual(await switcher.locator('option').allInnerTexts(), ['Default site', 'Українська служба']);
  assert.equal(await switcher.inputValue(), 'default');
  const queueRead = page.waitForResponse((response) => new URL(response.url()).pathname === `/sites/${env.SITE_ID}/v1/moderation/queue`);
  await switcher.selectOption(env.SITE_ID);
  assert.equal((await queueRead).status(), 200, 'the queue of the chosen site');
  await page.getByRole('heading', { name: 'Moderation queue' }).waitFor();
  assert.equal(await page.getByLabel('Site', { exact: true }).inputValue(), env.SITE_ID);
  await audit(page, 'queue (site switcher)');
  await page.getByLabel('Site', { exact: true }).selectOption('default');
  await page.getByRole('heading', { name: 'Moderation queue' }).waitFor();
  await page.getByRole('link', { name: 'Integrations' }).click();
  await page.getByRole('heading', { name: 'Integrations' }).waitFor();
}

/** A desk of one site signs in to that site's queue, with no switcher to show. */
async function siteDesk(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await watch(context, page);
  await page.goto(console_);
  const queueRead = page.waitForResponse((response) => new URL(response.url()).pathname === `/sites/${env.SITE_ID}/v1/moderation/queue`);
  await signIn(page, env.SITE_MODERATOR_KEY);
  assert.equal((await queueRead).status(), 200, "the desk's own site");
  await page.getByRole('heading', { name: 'Moderation queue' }).waitFor();
  assert.equal(await page.getByLabel('Site', { exact: true }).count(), 0, 'one site: no switcher');
  await context.close();
}

async function ukrainian(page) {
  await page.getByLabel('Language').selectOption('uk');
  await page.getByRole('heading', { name: 'Інтеграції' }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'uk');
  const navigation = await page.locator('nav.nav a').allInnerTexts();
  assert.match(navigation[0], /^Черга/, 'Ukrainian navigation');
  assert.deepEqual(navigation.slice(1), ['Журнал дій', 'Інтеграції']);
  await page.reload();
  await page.getByRole('heading', { name: 'Інтеграції' }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'uk', 'remembered');
  await page.getByRole('link', { name: /^Черга/ }).click();
  await page.getByRole('heading', { name: 'Черга модерації' }).waitFor();
  await page.locator('.chip--reason', { hasText: 'Крик (переважно великі літери або повтори)' }).first().waitFor();
  await audit(page, 'queue (uk)');
  assert.deepEqual(await page.context().cookies(), [], 'no cookies');
  const storage = await page.evaluate(() => ({ local: Object.keys(localStorage).sort(), session: Object.keys(sessionStorage).sort() }));
  assert.deepEqual(storage, { local: ['marginalia.console.lang'], session: ['marginalia.console.key', 'marginalia.console.site'] });
  await page.getByRole('button', { name: 'Вийти' }).click();
  await page.getByRole('heading', { name: 'Вхід до консолі редакторів' }).waitFor();
}

/** Cards entirely on the screen, below the sticky bar of bulk actions. */
const fullyVisibleCards = (page) =>
  page.evaluate(() => {
    const top = Math.max(0, document.querySelector('.bulk')?.getBoundingClientRect().bottom ?? 0);
    return [...document.querySelectorAll('.card--review')].filter((card) => {
      const box = card.getBoundingClientRect();
      return box.height > 0 && box.top >= top - 1 && box.bottom <= window.innerHeight + 1;
    }).length;
  });

/** The compact layout at 1440×900: at least six reviews on the screen, remembered across a reload;
 * the author's other reviews fold away on a card the editor has moved on from. */
async function density(browser, ids) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'en-US' });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await watch(context, page);
  await page.goto(`${console_}#/articles/${article}?status=published`);
  await signIn(page, keys.moderator);
  const cards = page.locator('.article__reviews .card');
  await cards.nth(7).waitFor();
  const showFrom = () => cards.first().evaluate((card) => card.scrollIntoView({ block: 'start' }));
  await showFrom();
  const roomy = await fullyVisibleCards(page);
  const toggle = page.getByRole('button', { name: 'Compact' });
  assert.equal(await toggle.getAttribute('aria-pressed'), 'false');
  await toggle.click();
  assert.equal(await toggle.getAttribute('aria-pressed'), 'true');
  await showFrom();
  const compact = await fullyVisibleCards(page);
  console.log(`density at 1440×900: ${roomy} reviews fully visible, ${compact} in the compact layout`);
  assert.ok(compact >= 6, `compact: ${compact} reviews fully visible at 1440×900`);
  assert.ok(compact > roomy, 'the compact layout is what fits more');
  await screenshot(page, 'compact');
  await audit(page, 'article, compact, 1440 px');

  await page.reload();
  await page.locator('.article__reviews .card').nth(7).waitFor();
  assert.ok(await page.evaluate(() => document.documentElement.classList.contains('compact')), 'remembered');
  assert.equal(await page.getByRole('button', { name: 'Compact' }).getAttribute('aria-pressed'), 'true');

  // The author's other reviews show on the current card only.
  const caught = page.locator(`.card[data-id="${ids.caught}"]`);
  await page.locator('.article__reviews .card').first().focus();
  await goTo(page, ids.caught);
  await caught.locator('.card__author li').first().waitFor();
  await page.keyboard.press(ids.caught === (await cards.last().getAttribute('data-id')) ? 'k' : 'j');
  await caught.locator('.card__author').waitFor({ state: 'hidden' });
  assert.equal(await caught.locator('.card__author').innerHTML(), '', 'folded away on the visited card');
  await context.close();
}

/** Puts the layout checks' helpers in the page (through the DevTools protocol, which the
 * console's CSP does not govern): where an element's first glyph starts, and its text's box. */
function installProbes() {
  window.firstGlyphLeft = (element) => {
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT, {
      acceptNode: (node) => (node.data.trim() ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_SKIP),
    });
    const text = walker.nextNode();
    if (!text) return null;
    const range = document.createRange();
    const at = text.data.length - text.data.trimStart().length;
    range.setStart(text, at);
    range.setEnd(text, at + 1);
    return range.getBoundingClientRect().left;
  };
  window.textBox = (element) => {
    const range = document.createRange();
    range.selectNodeContents(element);
    return range.getBoundingClientRect();
  };
}

/** Items of a wrapping row of metadata that start a line other than the first: each must begin
 * with its own text, at the row's left edge (no separator ahead of it). */
async function wrappedLineStarts(page, selector) {
  await page.evaluate(installProbes);
  return page.evaluate((selector) => {
    const found = [];
    for (const row of document.querySelectorAll(selector)) {
      const items = [...row.children].filter((item) => item.getBoundingClientRect().width > 0);
      const left = row.getBoundingClientRect().left + parseFloat(getComputedStyle(row).paddingLeft);
      for (let index = 1; index < items.length; index += 1) {
        const previous = items[index - 1].getBoundingClientRect();
        const box = items[index].getBoundingClientRect();
        if (box.top < previous.bottom - 2) continue; // the same line
        found.push({ text: items[index].textContent.slice(0, 30), offset: window.firstGlyphLeft(items[index]) - left });
      }
    }
    return found;
  }, selector);
}

/** The audit log at 360 px: pills as wide and tall as their words, the arrow on the line of the
 * status it points to, and each review id whole, inside its cell, as a link to the review. Found
 * by what the editor sees (the cells by their column, the arrow by its glyph), not by class. */
async function measureLog(page) {
  await page.evaluate(installProbes);
  return page.evaluate(() => {
    const cells = [...document.querySelectorAll('table.log tbody td[data-label="Status"]')];
    const pills = cells.flatMap((cell) =>
      [...cell.querySelectorAll('.badge')].map((pill) => {
        const box = pill.getBoundingClientRect();
        const text = window.textBox(pill);
        return { text: pill.textContent, width: box.width, height: box.height, textWidth: text.width, textHeight: text.height };
      }),
    );
    const arrows = [];
    for (const cell of cells) {
      const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const at = node.data.indexOf('→');
        if (at < 0) continue;
        const range = document.createRange();
        range.setStart(node, at);
        range.setEnd(node, at + 1);
        const glyph = range.getBoundingClientRect();
        // The status the arrow points to: the first pill after it.
        const next = [...cell.querySelectorAll('.badge')].find((pill) => node.compareDocumentPosition(pill) & Node.DOCUMENT_POSITION_FOLLOWING);
        const box = next?.getBoundingClientRect();
        arrows.push({ middle: (glyph.top + glyph.bottom) / 2, right: glyph.right, nextTop: box?.top, nextBottom: box?.bottom, nextLeft: box?.left });
      }
    }
    const ids = [...document.querySelectorAll('table.log tbody td[data-label="Review and article"]')].map((cell) => {
      const link = [...cell.querySelectorAll('a')].find((anchor) => /^[0-9a-f]{8}-/.test(anchor.textContent));
      if (!link) return { text: cell.textContent, href: null, overflows: false };
      const box = link.getBoundingClientRect();
      const within = cell.getBoundingClientRect();
      return { text: link.textContent, href: link.getAttribute('href'), overflows: link.scrollWidth > link.clientWidth + 1 || box.right > within.right + 1 };
    });
    return { rows: cells.length, pills, arrows, ids };
  });
}

const logChecks = {
  pills(measured) {
    assert.ok(measured.pills.length > 0, 'the log has status pills to measure');
    for (const pill of measured.pills) {
    const size = JSON.stringify(pill);
      assert.ok(pill.width <= pill.textWidth + 30 && pill.height <= pill.textHeight + 12, `the “${pill.text}” pill fits its words: ${size}`);
    }
  },
  arrows(measured) {
    assert.ok(measured.arrows.length > 0, 'the log has status changes to measure');
    for (const arrow of measured.arrows) {
      // On the line of the status it points to, and right before it.
      const beside = arrow.nextLeft - arrow.right >= 0 && arrow.nextLeft - arrow.right <= 12;
      assert.ok(arrow.middle > arrow.nextTop && arrow.middle < arrow.nextBottom && beside, `“→” beside the new status: ${JSON.stringify(arrow)}`);
    }
  },
  ids(measured) {
    assert.ok(measured.ids.length > 0, 'the log has review ids');
    for (const id of measured.ids) {
      assert.match(id.text, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, `the whole id, not “${id.text}”`);
      assert.ok(id.href?.endsWith(`?review=${id.text}`), `a link to the review: ${id.href}`);
      assert.ok(!id.overflows, `review id ${id.text} fits its cell`);
    }
  },
};

async function narrowLog(page) {
  const measured = await measureLog(page);
  for (const check of Object.values(logChecks)) check(measured);
}

/** Every view at 360 px in the dark theme: no sideways scrolling, and axe again. */
async function phone(browser, ids) {
  const context = await browser.newContext({ viewport: { width: 360, height: 740 }, colorScheme: 'dark', locale: 'en-GB' });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await watch(context, page);
  await page.goto(console_);
  await page.getByLabel('API key').waitFor();
  await noSideways(page, 'sign-in');
  await audit(page, 'sign-in, 360 px dark');
  await page.keyboard.type(keys.admin);
  await page.keyboard.press('Enter');
  await page.locator('.card').first().waitFor();
  await noSideways(page, 'queue');
  const starts = await wrappedLineStarts(page, '.card__meta');
  assert.ok(starts.length > 0, 'at 360 px some card’s metadata wraps');
  for (const start of starts) assert.ok(Math.abs(start.offset) <= 1, `a wrapped line starts with text, not a separator: ${JSON.stringify(start)}`);
  await audit(page, 'queue, 360 px dark');
  await page.keyboard.press('?');
  await page.getByRole('dialog').waitFor();
  await noSideways(page, 'help overlay');
  await audit(page, 'help overlay, 360 px dark');
  await page.keyboard.press('Escape');
  const views = [
    ['article', `#/articles/${article}`, 'svg.chart__svg circle'],
    ['log', '#/log', 'table.log tbody tr'],
    ['integrations', '#/integrations', `[data-endpoint="${ids.endpoint}"]`],
  ];
  for (const [label, hash, ready] of views) {
    await page.evaluate((target) => (location.hash = target), hash);
    await page.locator(ready).first().waitFor();
    await noSideways(page, label);
    if (label === 'article') {
      for (const start of await wrappedLineStarts(page, '.article__meta, .card__meta')) {
        assert.ok(Math.abs(start.offset) <= 1, `article: a wrapped line starts with text: ${JSON.stringify(start)}`);
      }
    }
    if (label === 'log') await narrowLog(page);
    await audit(page, `${label}, 360 px dark`);
  }
  await context.close();
}

// --- readers the newsroom knows ----------------------------------------------------------------

// A site whose login signs reader tokens. It is set up here, through the API as a newsroom would:
// tests/browser/run.sh starts the service with its keys, and the sites it makes are other tests'.
const READER_SITE = 'readers';
// The HS256 secret the site's login shares with Marginalia (32 to 512 bytes).
const READER_SECRET = 'the-browser-test-login-shares-this-hs256-secret';
// An id as Auth0 gives them: the "|" is percent-encoded in the API's path and the console's address.
const READER = 'auth0|olena-17';
const DAY_MS = 86_400_000;

const base64url = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A reader token as the site's login signs it: HS256, with node's own HMAC (no JWT library). */
function readerToken(claims) {
  const signed = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url(claims)}`;
  return `${signed}.${createHmac('sha256', READER_SECRET).update(signed).digest('base64url')}`;
}

/** A submission to the readers' site with the reader's token, as the site's page sends it. */
const submitAsReader = (token, body) =>
  fetch(`${base}/sites/${READER_SITE}/v1/articles/${article}/reviews`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Marginalia-Reader': token },
    body: JSON.stringify({ rating: 4, ...body }),
  });

/** Creates the readers' site (pre-moderated, so that reviews wait in the queue) with its article,
 * and returns a moderator key of that site's desk. */
async function readerSite() {
  await call(`/v1/sites/${READER_SITE}`, {
    key: keys.admin,
    method: 'PUT',
    body: { name: 'Клуб читачів', moderation: 'pre', reader_tokens: { secrets: [READER_SECRET] } },
  });
  await call(`/sites/${READER_SITE}/v1/articles/${article}`, { key: keys.cms, method: 'PUT', body: { title: 'Напади ІДІЛ-Хорасан', language: 'uk' } });
  // `keys create` prints the key on stdout.
  const created = execFileSync(env.MARGINALIA_BIN, ['keys', 'create', '--name', 'desk-readers', '--scope', 'moderator', '--site', READER_SITE], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return created.trim();
}

const readerPath = `/sites/${READER_SITE}/v1/moderation/readers/${encodeURIComponent(READER)}`;

/** The texts each of `field`'s descriptions (aria-describedby) holds: its hint and its error. */
const descriptions = (field) =>
  field.evaluate((element) => (element.getAttribute('aria-describedby') ?? '').split(' ').map((id) => document.getElementById(id)?.textContent ?? ''));

/** The reader view's counts by status, as shown. */
const readerCounts = (page) =>
  page.locator('.reader-counts div').evaluateAll((rows) => Object.fromEntries(rows.map((row) => [row.querySelector('dt').textContent, row.querySelector('dd').textContent])));

async function readers(browser) {
  const desk = await readerSite();
  const token = readerToken({ sub: READER, aud: `marginalia:${READER_SITE}`, exp: Math.floor(Date.now() / 1000) + 600, name: 'Олена К.', badges: ['subscriber'] });
  const submitted = await submitAsReader(token, { body: 'Дякую за хронологію нападів: тепер видно, чому угруповання не переможене.' });
  const review = await submitted.json();
  assert.equal(submitted.status, 201, JSON.stringify(review));
  assert.deepEqual([review.status, review.verified, review.badges], ['pending', true, ['subscriber']]);

  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await watch(context, page);
  await page.goto(console_);
  await signIn(page, desk);
  await page.getByRole('heading', { name: 'Moderation queue' }).waitFor();

  // The card says, in words, that the site's login vouched for the author, and what badge it gave.
  const card = page.locator(`.card[data-id="${review.id}"]`);
  await card.waitFor();
  assert.equal(await card.locator('.verified').innerText(), '✓ Verified');
  assert.equal(await card.locator('.verified [aria-hidden="true"]').innerText(), '✓', 'the tick is decoration');
  assert.equal(await card.locator('.card__badges').textContent(), 'Badges: subscriber');
  // Its link names the reader; the keyboard opens their view, the id percent-encoded in the address.
  await card.getByRole('link', { name: `Reader ${READER}` }).focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction((hash) => location.hash === hash, `#/readers/${encodeURIComponent(READER)}`);
  await page.getByRole('heading', { level: 1, name: `Reader ${READER}` }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.tagName), 'H1', 'focus starts at the heading');
  const recent = page.locator(`.reader__reviews .card[data-id="${review.id}"]`);
  await recent.waitFor();
  assert.equal(await recent.getByRole('link', { name: /^Reader / }).count(), 0, 'no link to the view it is in');
  assert.deepEqual(await readerCounts(page), { Pending: '1', Published: '0', Rejected: '0', Spam: '0', Deleted: '0' });
  await page.locator('.reader-state', { hasText: 'Not suspended' }).waitFor();
  await page.getByText('Never suspended on this site.').waitFor();
  await audit(page, 'reader');

  // Its newest reviews take the queue's keys; the counts follow.
  await recent.focus();
  await page.keyboard.press('a');
  await toast(page, 'Approved 1 review');
  await page.waitForFunction(() => document.querySelector('.reader-counts dd')?.textContent === '0');
  assert.deepEqual(await readerCounts(page), { Pending: '0', Published: '1', Rejected: '0', Spam: '0', Deleted: '0' });
  assert.equal(await recent.getAttribute('data-status'), 'published', 'the card stays, with its new status');

  // No reason: the API's field error, beside the field (its description), and focus on the field.
  const duration = page.getByLabel('For how long');
  const reason = page.getByLabel('Reason', { exact: true });
  assert.equal(await duration.inputValue(), '7', 'a week unless chosen otherwise');
  await page.getByRole('button', { name: 'Suspend', exact: true }).focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.activeElement?.getAttribute('aria-invalid') === 'true');
  assert.equal(await reason.getAttribute('aria-invalid'), 'true');
  assert.equal(await reason.evaluate((field) => field === document.activeElement), true, 'focus is on the reason');
  assert.match((await descriptions(reason)).join(' '), /say why, for the record/);
  assert.equal((await call(readerPath, { key: desk })).suspension, null, 'nothing suspended');

  // With a reason, for 7 days, from the keyboard.
  const why = 'Personal attacks on other readers, after a warning.';
  await page.keyboard.type(why);
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.locator('.reader-state', { hasText: 'Suspended until' }).waitFor();
  await page.waitForFunction(() => document.activeElement?.classList.contains('reader-state'));
  await toast(page, `Reader ${READER}: Suspended until`);
  assert.equal(await reason.getAttribute('aria-invalid'), null, 'the error is gone');
  const { suspension } = await call(readerPath, { key: desk });
  assert.deepEqual([suspension.reason, suspension.actor], [why, 'desk-readers']);
  const days = (Date.parse(suspension.until) - Date.now()) / DAY_MS;
  assert.ok(days > 6.9 && days <= 7, `until a week from now: ${suspension.until}`);
  const shown = await page.locator('.reader-state').innerText();
  assert.ok(shown.includes(why) && shown.includes('desk-readers'), `the reason and who: ${shown}`);
  assert.match(await page.locator('.reader-record li').first().innerText(), /^Suspended until[\s\S]*Personal attacks[\s\S]*by desk-readers/);
  await page.getByRole('heading', { name: 'Change the suspension' }).waitFor();
  const refused = await submitAsReader(token, { body: 'Ще один відгук під час блокування.' });
  const problem = await refused.json();
  assert.equal(refused.status, 403, JSON.stringify(problem));
  assert.equal(problem.type, 'urn:marginalia:problem:reader-suspended');
  await audit(page, 'reader, suspended');

  // Replaced by one for good.
  await duration.selectOption({ label: 'For good' });
  await reason.fill('Repeated attacks after the first suspension.');
  await page.getByRole('button', { name: 'Replace the suspension' }).click();
  await page.locator('.reader-state__line', { hasText: 'Suspended for good' }).waitFor();
  assert.equal((await call(readerPath, { key: desk })).suspension.until, null, 'for good');

  // Lifted: the button goes with the suspension, and focus to what holds now.
  await page.getByRole('button', { name: 'Lift the suspension' }).focus();
  await page.keyboard.press('Enter');
  await page.locator('.reader-state', { hasText: 'Not suspended' }).waitFor();
  await page.waitForFunction(() => document.activeElement?.classList.contains('reader-state'));
  const record = await page.locator('.reader-record__what').allInnerTexts();
  assert.equal(record.length, 3);
  assert.deepEqual([record[0], record[1]], ['Suspension lifted', 'Suspended for good']);
  assert.match(record[2], /^Suspended until /);
  assert.equal((await call(readerPath, { key: desk })).suspension, null);
  const again = await submitAsReader(token, { body: 'Після розблокування: дякую, що пояснили правила.' });
  assert.equal(again.status, 201, 'the reader may write again');

  await page.setViewportSize({ width: 360, height: 740 });
  await page.emulateMedia({ colorScheme: 'dark' });
  await noSideways(page, 'reader');
  await audit(page, 'reader, 360 px dark');
  await page.getByLabel('Language').selectOption('uk');
  await page.getByRole('heading', { level: 1, name: `Читач ${READER}` }).waitFor();
  await page.locator('.reader-state', { hasText: 'Не заблоковано' }).waitFor();
  await recent.locator('.verified', { hasText: 'Підтверджений' }).waitFor();
  assert.equal(await page.getByLabel('На який строк').inputValue(), '7');
  await audit(page, 'reader (uk), 360 px dark');
  await context.close();
}

// --- run ------------------------------------------------------------------------------------------

const receiver = createServer((request, response) => {
  request.resume();
  request.on('end', () => response.writeHead(204).end());
});
await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const ids = await seed(`http://127.0.0.1:${receiver.address().port}/hooks/marginalia`);

const browser = await launchChromium();
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await watch(context, page);
  await signInRefusals(page);
  const flagged = await moderate(page, ids);
  await articleView(page, flagged);
  await keepPublished(page, ids);
  await auditLog(page);
  await outage(page);
  await moderatorIntegrations(page);
  await revocation(page);
  await adminIntegrations(page, ids);
  await siteSwitcher(page);
  await ukrainian(page);
  await context.close();
  await phone(browser, ids);
  await density(browser, ids);
  await siteDesk(browser);
  // Last: it adds a site, which the site switcher's check above would see.
  await readers(browser);
} finally {
  await browser.close();
  receiver.close();
  // The service's webhook worker keeps its connections to the receiver open for reuse: without
  // this, the test's process would wait for them to time out (about 90 s) before it ends.
  receiver.closeAllConnections();
}

// Moderate violations fail the run as well; a minor one is reported. An exception would be named
// here with its reason; there is none.
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
assert.deepEqual(overflow, [], 'views that scroll sideways at 360 px');
assert.equal(blocking, 0, 'moderate, serious or critical accessibility violations');
console.log(`console: every check passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
