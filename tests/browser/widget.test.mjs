// The review widget in Debian's chromium, on the service's demo page (tests/browser/run.sh starts
// the service and registers the articles). It proves that:
// - a reader rates and reviews an article in Ukrainian with the keyboard only, sees the review at
//   the top and the count change; a retry after a lost answer stores one review, and a double
//   submission sends one request;
// - the server's field errors appear next to their fields (aria-invalid, aria-describedby);
// - "show more" and the sort order work from the keyboard; a second widget on the page (data-target,
//   data-lang="en") keeps to itself;
// - a pre-moderated article answers with the awaiting-moderation message;
// - under the demo's Content-Security-Policy nothing is refused, no request leaves the service's
//   origin, and no cookie or storage is used;
// - axe-core finds no serious or critical violation, in the light and the dark theme;
// - js + css stay within the size budget.

import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const base = process.env.MARGINALIA_URL;
const article = process.env.ARTICLE_ID;
const premoderated = process.env.PREMODERATED_ARTICLE_ID;
assert.ok(base && article && premoderated, 'run me through tests/browser/run.sh');
const SIZE_BUDGET = 12 * 1024;
const PAGE_SIZE = 10; // as in widget.js
const viewport = { width: 800, height: 1400 };

// Earlier readers, so that the list has a second page and the screenshot something to show.
const EARLIER_REVIEWS = [
  [5, 'Olena K.', 'Clear and sober', 'Explains why IS-Khorasan cannot be written off, without drama.'],
  [4, 'Андрій', null, 'Добре пояснено, звідки в угруповання стільки живучості.'],
  [4, null, null, 'Useful timeline from the 2017 strike to the 2020 attacks.'],
  [3, 'M. Rahimi', 'Needs more sources', 'Mostly anonymous officials; I would like named analysts too.'],
  [5, 'Ірина Т.', 'Нарешті контекст', 'Після новин про вибух саме цього пояснення бракувало.'],
  [2, null, null, 'Хотілося б більше про те, що відбувається в Кунарі зараз.'],
  [4, 'James', null, 'Solid reporting, though the map caption is confusing.'],
  [5, 'Оксана', 'Варто прочитати', 'Рідкісний текст, де цифри пояснюють, а не лякають.'],
  [1, null, null, 'Too long for what it says, and the headline oversells it.'],
  [3, 'Богдан', null, 'Цікаво, але бракує думки самих афганців.'],
  [4, 'Sara L.', 'Good background', 'Read it before the evening briefing; it held up.'],
];

const problems = [];
const results = [];

function sizes() {
  const gzipped = ['widget.js', 'widget.css'].map((file) => {
    const source = readFileSync(new URL(`../../src/widget/${file}`, import.meta.url));
    return gzipSync(source, { level: 9 }).length;
  });
  return { js: gzipped[0], css: gzipped[1], total: gzipped[0] + gzipped[1] };
}

async function post(articleId, [rating, author_name, title, body]) {
  const response = await fetch(`${base}/v1/articles/${articleId}/reviews`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ rating, author_name, title, body }),
  });
  assert.equal(response.status, 201, await response.text());
}

/** Records on `problems` every request that leaves the service's origin, every CSP refusal and
 * every uncaught error of the page. */
function watch(page) {
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.protocol !== 'data:' && url.origin !== base) problems.push(`request to ${url}`);
  });
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
}

/** What has keyboard focus, in words: "rating 3", a button's text, "sort", or a field's name. */
function focused(page) {
  return page.evaluate(() => {
    const element = document.activeElement;
    if (element.type === 'radio') return `rating ${element.value}${element.checked ? ' checked' : ''}`;
    if (element.tagName === 'BUTTON') return element.textContent;
    if (element.tagName === 'SELECT') return 'sort';
    if (element.tagName === 'ARTICLE') return 'review';
    return element.name || element.tagName.toLowerCase();
  });
}

async function press(page, key, expected) {
  await page.keyboard.press(key);
  assert.equal(await focused(page), expected, `focus after ${key}`);
}

async function open(page, articleId) {
  await page.goto(`${base}/demo/${articleId}`);
  await page.locator('.marginalia .marginalia__score:not(:has-text("…"))').waitFor();
}

const text = (page, selector) => page.locator(selector).innerText();

/** Runs axe-core on the whole page and keeps the result under `label`. */
async function audit(page, label) {
  if (!(await page.evaluate(() => 'axe' in window))) {
    await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  }
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const { passes, incomplete, violations } = result;
  results.push({ label, passes: passes.length, incomplete: incomplete.length, violations });
}

async function reader(browser) {
  // The demo page's own Content-Security-Policy applies here. A listener installed before any
  // page script reports refusals the console might not show.
  const context = await browser.newContext({ viewport, locale: 'uk-UA' });
  await context.addInitScript(() =>
    window.addEventListener('securitypolicyviolation', (event) =>
      console.error(`Content Security Policy violation: ${event.violatedDirective} ${event.blockedURI}`),
    ),
  );
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  watch(page);

  await open(page, article);
  assert.equal(await text(page, '.marginalia h2'), 'Відгуки читачів', 'language from <html lang="uk">');
  assert.equal(await text(page, '.marginalia__count'), '11 відгуків');
  assert.equal(await page.locator('.marginalia__list > li').count(), PAGE_SIZE);

  // A Ukrainian review, with the keyboard only. The stars are a radio group: Space picks the
  // focused star, arrows move the choice.
  await press(page, 'Tab', 'rating 1');
  await press(page, 'Space', 'rating 1 checked');
  for (const star of [2, 3, 4, 5]) await press(page, 'ArrowRight', `rating ${star} checked`);
  await press(page, 'ArrowLeft', 'rating 4 checked');
  await press(page, 'Tab', 'title');
  await page.keyboard.type('Тверезий аналіз');
  await press(page, 'Tab', 'body');
  await page.keyboard.type(
    'Стаття добре пояснює, чому ІДІЛ-Хорасан не можна вважати переможеним.\nЧекаю продовження.',
  );
  await press(page, 'Tab', 'author_name');
  await page.keyboard.type('Олена К.');
  await press(page, 'Tab', 'author_email');
  await page.keyboard.type('olena@example.com');
  await press(page, 'Tab', 'Надіслати відгук'); // the honeypot is out of the tab order

  // The first attempt reaches the server but its answer is lost; the reader sends again. The
  // retry carries the same Idempotency-Key, so one review is stored. The retry's answer is slowed
  // down to see the button disabled, and a second Enter meanwhile sends nothing.
  const keys = [];
  await page.route('**/reviews', async (route) => {
    keys.push(route.request().headers()['idempotency-key']);
    if (keys.length === 1) {
      await route.fetch();
      await route.abort('connectionreset');
      return;
    }
    await sleep(500);
    await route.continue();
  });
  await page.keyboard.press('Enter');
  const notice = (hasText) => page.locator('.marginalia__form .marginalia__notice', { hasText });
  await notice('Перевірте з’єднання').waitFor();
  assert.equal(await focused(page), 'Надіслати відгук', 'focus stays on the button');
  await page.keyboard.press('Enter');
  assert.ok(await page.locator('.marginalia__submit').isDisabled(), 'disabled while sending');
  await page.keyboard.press('Enter');
  const first = page.locator('.marginalia__list > li').first();
  await first.getByText('Чекаю продовження.').waitFor();
  await page.locator('.marginalia__count', { hasText: '12 відгуків' }).waitFor();
  await page.unroute('**/reviews');
  assert.equal(keys.length, 2, 'two attempts, no third');
  assert.match(keys[0], /^[0-9a-f-]{36}$/);
  assert.equal(keys[1], keys[0], 'the retry reuses the key');
  assert.equal(await first.locator('h4').innerText(), 'Тверезий аналіз');
  assert.equal(await first.locator('.marginalia__stars').getAttribute('aria-label'), 'Оцінка: 4 з 5');
  assert.match(await text(page, '.marginalia__form .marginalia__notice'), /Ваш відгук опубліковано/);
  assert.match(await page.locator('.marginalia [role=status]').textContent(), /Ваш відгук опубліковано/);
  assert.equal(await focused(page), 'Надіслати відгук', 'focus stays on the button');
  const fourStars = page.locator('.marginalia__histogram li', { hasText: '4 зірки' });
  assert.equal(await fourStars.locator('.marginalia__histogram-count').innerText(), '5');

  // An invalid one: no rating and a body of spaces. The server's errors land next to their fields.
  await press(page, 'Shift+Tab', 'author_email');
  await press(page, 'Shift+Tab', 'author_name');
  await press(page, 'Shift+Tab', 'body');
  await page.keyboard.type('   ');
  await press(page, 'Tab', 'author_name');
  await press(page, 'Tab', 'author_email');
  await press(page, 'Tab', 'Надіслати відгук');
  await page.keyboard.press('Enter');
  await notice('Виправте позначені поля.').waitFor();
  assert.equal(await focused(page), 'rating 1', 'focus on the first invalid field');
  const errors = await page.evaluate(() => {
    const described = (element) =>
      element
        .getAttribute('aria-describedby')
        .split(' ')
        .map((id) => document.getElementById(id).textContent);
    const body = document.querySelector('.marginalia textarea');
    const rating = document.querySelector('.marginalia fieldset');
    return {
      body: {
        invalid: body.getAttribute('aria-invalid'),
        described: described(body),
        next: body.nextElementSibling.textContent,
      },
      rating: {
        invalid: [...rating.querySelectorAll('input')].map((radio) => radio.getAttribute('aria-invalid')),
        described: described(rating),
        last: rating.lastElementChild.textContent,
      },
      email: document.querySelector('.marginalia input[type=email]').hasAttribute('aria-invalid'),
    };
  });
  assert.deepEqual(errors, {
    body: {
      invalid: 'true',
      described: ['Напишіть відгук: від 1 до 10 000 символів.'],
      next: 'Напишіть відгук: від 1 до 10 000 символів.',
    },
    rating: {
      invalid: ['true', 'true', 'true', 'true', 'true'],
      described: ['Оберіть оцінку від 1 до 5 зірок.'],
      last: 'Оберіть оцінку від 1 до 5 зірок.',
    },
    email: false,
  });
  assert.equal(await text(page, '.marginalia__count'), '12 відгуків');

  // The next page, then the lowest ratings first, from the keyboard.
  for (const field of ['title', 'body', 'author_name', 'author_email', 'Надіслати відгук', 'sort']) {
    await press(page, 'Tab', field);
  }
  await press(page, 'Tab', 'Показати більше відгуків');
  await page.keyboard.press('Enter');
  await page.locator(`.marginalia__list > li:nth-child(${PAGE_SIZE + 2})`).waitFor();
  assert.equal(await page.locator('.marginalia__list > li').count(), PAGE_SIZE + 2, 'no review twice');
  assert.equal(await focused(page), 'review', 'focus on the first new review');
  assert.ok(await page.locator('.marginalia__more').isHidden(), 'no third page');
  assert.equal(await page.locator('.marginalia [role=status]').textContent(), 'Показано ще 1 відгук');
  await press(page, 'Shift+Tab', 'sort');
  for (let step = 0; step < 3; step += 1) await page.keyboard.press('ArrowDown');
  assert.equal(await page.locator('.marginalia select').inputValue(), 'lowest');
  await page.locator('.marginalia__list > li:first-child [aria-label="Оцінка: 1 з 5"]').waitFor();

  // A second widget on the same page, placed with data-target and in English by data-lang: its own
  // element ids, and the stylesheet linked once.
  await page.evaluate((articleId) => {
    const target = document.createElement('div');
    target.id = 'second';
    const script = document.createElement('script');
    Object.assign(script.dataset, { articleId, target: '#second', lang: 'en' });
    script.src = '/widget.js';
    document.body.append(target, script);
  }, article);
  await page.locator('#second .marginalia__count', { hasText: '12 reviews' }).waitFor();
  assert.equal(await text(page, '#second h2'), 'Reader reviews');
  assert.equal(await page.locator('#second .marginalia__list > li').count(), PAGE_SIZE);
  assert.deepEqual(
    await page.evaluate(() => {
      const ids = [...document.querySelectorAll('[id]')].map((element) => element.id);
      return [ids.length - new Set(ids).size, document.querySelectorAll('link[href$="/widget.css"]').length];
    }),
    [0, 1],
    'no duplicate id, one stylesheet',
  );

  // A pre-moderated article: the reader is told the review awaits moderation, and it stays unlisted.
  await open(page, premoderated);
  assert.equal(await text(page, '.marginalia__score'), 'Відгуків ще немає. Напишіть перший.');
  await press(page, 'Tab', 'rating 1');
  await press(page, 'ArrowRight', 'rating 2 checked');
  await press(page, 'Tab', 'title');
  await press(page, 'Tab', 'body');
  await page.keyboard.type('Дуже важлива тема, але заголовок тривожніший за сам текст.');
  await press(page, 'Tab', 'author_name');
  await press(page, 'Tab', 'author_email');
  await press(page, 'Tab', 'Надіслати відгук');
  await page.keyboard.press('Enter');
  await notice('очікує на модерацію').waitFor();
  assert.match(await page.locator('.marginalia [role=status]').textContent(), /очікує на модерацію/);
  assert.ok(await page.locator('.marginalia__reviews').isHidden(), 'a pending review is not listed');
  assert.equal(await text(page, '.marginalia__score'), 'Відгуків ще немає. Напишіть перший.');

  // The watch sees what it must: a style attribute, which the policy refuses, is reported both by
  // the console and by the event.
  const seen = problems.length;
  await page.evaluate(() => document.body.setAttribute('style', 'outline: 1px solid'));
  for (let wait = 0; problems.length < seen + 2 && wait < 100; wait += 1) await sleep(20);
  const reported = problems.splice(seen).join('\n');
  assert.match(reported, /inline style violates/, 'the console reports a CSP refusal');
  assert.match(reported, /violation: style-src-attr/, 'the event reports a CSP refusal');

  assert.deepEqual(await context.cookies(), [], 'no cookies');
  const storage = await page.evaluate(() => [localStorage.length, sessionStorage.length]);
  assert.deepEqual(storage, [0, 0], 'no storage');
  await context.close();
}

async function auditor(browser, colorScheme) {
  // axe is injected as an inline script, which the demo's policy refuses: this context bypasses
  // CSP, and only audits (the reader's context above enforces it).
  const context = await browser.newContext({ viewport, colorScheme, bypassCSP: true });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  watch(page);
  await open(page, article);
  await page.locator('.marginalia__list > li').first().waitFor();
  mkdirSync('target/browser', { recursive: true });
  const screenshot = `target/browser/widget${colorScheme === 'light' ? '' : '-dark'}.png`;
  await page.screenshot({ path: screenshot });
  if (colorScheme === 'light' && process.env.WRITE_SCREENSHOT === '1') {
    copyFileSync(screenshot, 'docs/widget-screenshot.png');
  }
  await audit(page, `${colorScheme}, reviews`);
  // The form in its error state: submitted empty.
  await page.locator('.marginalia__submit').click();
  await page.locator('.marginalia__error:visible').first().waitFor();
  await audit(page, `${colorScheme}, field errors`);
  await context.close();
}

const size = sizes();
for (const review of EARLIER_REVIEWS) await post(article, review);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // As root, chromium runs only without its sandbox.
  args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
});
try {
  await reader(browser);
  await auditor(browser, 'light');
  await auditor(browser, 'dark');
} finally {
  await browser.close();
}

const { js, css, total } = size;
console.log(`widget size, gzipped: ${js} B js + ${css} B css = ${total} B (budget ${SIZE_BUDGET} B)`);
let blocking = 0;
for (const { label, passes, incomplete, violations } of results) {
  const serious = violations.filter((violation) => ['serious', 'critical'].includes(violation.impact));
  blocking += serious.length;
  console.log(
    `axe (${label}): ${passes} rules passed, ${violations.length} violated ` +
      `(${serious.length} serious or critical), ${incomplete} to review by hand`,
  );
  for (const violation of violations) {
    console.log(`  ${violation.impact} ${violation.id}: ${violation.help}`);
    for (const node of violation.nodes) {
      console.log(`    ${node.target.join(' ')}: ${node.failureSummary.replaceAll('\n', ' ')}`);
    }
  }
}
assert.deepEqual(problems, [], 'CSP refusals, foreign requests or page errors');
assert.equal(blocking, 0, 'serious or critical accessibility violations');
assert.ok(size.total <= SIZE_BUDGET, `widget over budget: ${size.total} B`);
console.log('widget: every check passed');
