// Swagger UI at /docs/ in Debian's chromium, under the Content-Security-Policy the service gives
// it (src/api/openapi.rs, DOCS_CSP). It proves that:
// - the page and every asset carry the policy, frame-ancestors 'none', X-Frame-Options: DENY and
//   Referrer-Policy: no-referrer;
// - Swagger UI still renders the document's operations and expands one;
// - nothing is refused by the policy, no page error occurs and no request leaves the origin.
//
// Needs only a running service: MARGINALIA_URL=http://127.0.0.1:PORT node tests/browser/docs.test.mjs
// (tests/browser/run.sh can run it right after widget.test.mjs, with the same MARGINALIA_URL).
import assert from 'node:assert/strict';
import { launchChromium } from './launch.mjs';

const base = process.env.MARGINALIA_URL;
assert.ok(base, 'set MARGINALIA_URL to a running service (tests/browser/run.sh does)');
const started = Date.now();
const problems = [];

const browser = await launchChromium();
try {
  const context = await browser.newContext();
  await context.addInitScript(() =>
    window.addEventListener('securitypolicyviolation', (event) =>
      console.error(`Content Security Policy violation: ${event.violatedDirective} ${event.blockedURI}`),
    ),
  );
  const page = await context.newPage();
  const answers = [];
  page.on('response', (response) => answers.push(response));
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.protocol !== 'data:' && url.origin !== base) problems.push(`request to ${url}`);
  });
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));

  await page.goto(`${base}/docs/`, { waitUntil: 'networkidle' });
  // The operations, grouped by tag, as Swagger UI renders them.
  await page.locator('.opblock').first().waitFor({ timeout: 60_000 });
  const operations = await page.locator('.opblock').count();
  assert.ok(operations >= 30, `Swagger UI rendered ${operations} operations`);
  // Expanding an operation renders its parameters and responses (more React, more styles).
  const stats = page.locator('.opblock', { has: page.locator('.opblock-summary-path', { hasText: /^\/v1\/stats$/ }) });
  await stats.locator('.opblock-summary').click();
  await stats.locator('.responses-wrapper').waitFor();

  // Every page and asset under /docs/ carries the headers.
  const docs = answers.filter((response) => new URL(response.url()).pathname.startsWith('/docs/'));
  assert.ok(docs.length >= 4, `only ${docs.length} answers under /docs/`);
  for (const response of docs) {
    const headers = await response.allHeaders();
    const where = new URL(response.url()).pathname;
    assert.match(headers['content-security-policy'] ?? '', /default-src 'none'/, where);
    assert.match(headers['content-security-policy'] ?? '', /frame-ancestors 'none'/, where);
    assert.doesNotMatch(headers['content-security-policy'] ?? '', /unsafe-/, where);
    assert.equal(headers['x-frame-options'], 'DENY', where);
    assert.equal(headers['referrer-policy'], 'no-referrer', where);
  }

  await context.close();
} finally {
  await browser.close();
}
assert.deepEqual(problems, [], 'CSP refusals, foreign requests or page errors');
console.log(`docs: every check passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
