// One way to start Debian's chromium for the browser tests (never a downloaded browser). Beyond
// playwright's own quiet defaults (no background networking, component updates or sync), every
// host name resolves to nothing: a link the page shows (the fixture's news.example.org) can never
// be prefetched or resolved off the machine, and a request that tried would fail visibly.
import { chromium } from 'playwright-core';

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      // As root, chromium runs only without its sandbox.
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}
