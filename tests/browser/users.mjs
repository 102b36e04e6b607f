// Headless-browser check of Gatehouse's sign-in and Users pages.
//
// Signs in through the real login form, checks the Users page, runs axe
// (WCAG 2.0/2.1 A and AA) on the login, Users, account, Roles, Settings,
// Requests and member pages, and checks that each of them has no horizontal
// scroll at phone width.
//
// Uses the system Chromium (Debian's `chromium` package); it never downloads
// a browser.
//
// Environment:
//   BASE_URL    e.g. http://127.0.0.1:18181          (required)
//   EMAIL       e-mail of an existing member           (required)
//   PASSWORD    that member's password                 (required)
//   SCREENSHOT  optional path of a PNG to write (the Users page at desktop
//               width; a phone-width shot is written beside it as *-phone.png)
//   CHROMIUM    browser binary, default /usr/bin/chromium
//   INVITEE     optional: an address to invite from the Invites screen; the test
//               then waits for LINK_FILE (written by the harness from the mail
//               the SMTP server received), opens that link signed out, creates
//               the account and lands on the Users screen
//   LINK_FILE   where the harness writes the invitation link
//   HTML_DIR    optional: every HTML document the browser is served is saved there,
//               for the harness to run the Nu HTML validator on
//
// Exit code 0 when every check passes, 1 otherwise. The last line is
// `browser: N checks passed` on success.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';

const TOTAL_BUDGET_MS = 55_000; // the whole run must finish in under 60 s
const ACTION_TIMEOUT_MS = 10_000;
const NAV_TIMEOUT_MS = 15_000;
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const BLOCKING_IMPACTS = new Set(['serious', 'critical']);
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

const env = process.env;
const BASE_URL = (env.BASE_URL || '').replace(/\/+$/, '');
const EMAIL = env.EMAIL || '';
const PASSWORD = env.PASSWORD || '';
const SCREENSHOT = env.SCREENSHOT || '';
const CHROMIUM = env.CHROMIUM || '/usr/bin/chromium';
const INVITEE = env.INVITEE || '';
const LINK_FILE = env.LINK_FILE || '';
const HTML_DIR = env.HTML_DIR || '';

const missing = ['BASE_URL', 'EMAIL', 'PASSWORD'].filter((k) => !env[k]);
if (missing.length) {
  console.error(`browser: missing environment variable(s): ${missing.join(', ')}`);
  process.exit(1);
}
if (!existsSync(CHROMIUM)) {
  console.error(`browser: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM)`);
  process.exit(1);
}

let passed = 0;
const failures = [];

function pass(name) {
  passed += 1;
  console.log(`ok   ${name}`);
}

function fail(name, detail) {
  failures.push(name);
  console.log(`FAIL ${name}`);
  if (detail) console.log(detail.replace(/^/gm, '       '));
}

function check(name, ok, detail) {
  if (ok) pass(name);
  else fail(name, detail);
}

// A check whose failure would make the following steps meaningless.
async function must(name, fn) {
  try {
    const value = await fn();
    pass(name);
    return value;
  } catch (err) {
    fail(name, String(err && err.message ? err.message : err).split('\n').slice(0, 6).join('\n'));
    throw new Abort(name);
  }
}

class Abort extends Error {}

function formatTarget(target) {
  // A target is a list of selectors; nested lists cross iframes / shadow roots.
  return target.map((t) => (Array.isArray(t) ? t.join(' >>> ') : t)).join(' >> ');
}

async function axeScan(page, label) {
  const results = await new AxeBuilder({ page }).withTags(AXE_TAGS).analyze();
  const blocking = results.violations.filter((v) => BLOCKING_IMPACTS.has(v.impact));
  const other = results.violations.filter((v) => !BLOCKING_IMPACTS.has(v.impact));
  for (const v of other) {
    console.log(`note axe ${label}: ${v.id} (${v.impact}) ${v.help} — ${v.nodes.length} node(s), not blocking`);
  }
  const lines = [];
  for (const v of blocking) {
    lines.push(`${v.id} [${v.impact}] ${v.help}`);
    lines.push(`  ${v.helpUrl}`);
    for (const node of v.nodes) {
      lines.push(`  - ${formatTarget(node.target)}`);
      lines.push(`      ${node.html.replace(/\s+/g, ' ').slice(0, 200)}`);
      const summary = (node.failureSummary || '').split('\n').map((s) => s.trim()).filter(Boolean);
      for (const s of summary.slice(0, 4)) lines.push(`      ${s}`);
    }
  }
  check(
    `axe: no serious/critical WCAG 2.1 A/AA violations on ${label} (${results.passes.length} rules passed)`,
    blocking.length === 0,
    lines.join('\n'),
  );
}

// Saves every HTML document served to `p` (not redirects) under HTML_DIR, as served.
let savedHtml = 0;
function saveServedHtml(p, who) {
  if (!HTML_DIR) return;
  p.on('response', async (res) => {
    if (res.request().resourceType() !== 'document') return;
    if (!(res.headers()['content-type'] || '').startsWith('text/html')) return;
    if (res.status() >= 300 && res.status() < 400) return;
    try {
      const body = await res.text();
      savedHtml += 1;
      const path = new URL(res.url()).pathname.replace(/[^A-Za-z0-9]+/g, '_').slice(0, 60);
      writeFileSync(join(HTML_DIR, `${String(savedHtml).padStart(3, '0')}-${who}${path}.html`), body);
    } catch (err) {
      console.log(`note could not save ${res.url()}: ${err.message}`);
    }
  });
}

function phonePath(p) {
  return /\.png$/i.test(p) ? p.replace(/\.png$/i, '-phone.png') : `${p}-phone.png`;
}

async function run() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 20_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
  try {
    const context = await browser.newContext({ viewport: DESKTOP, locale: 'en-US' });
    const page = await context.newPage();
    page.setDefaultTimeout(ACTION_TIMEOUT_MS);
    page.setDefaultNavigationTimeout(NAV_TIMEOUT_MS);
    page.on('pageerror', (err) => console.log(`note page error: ${err.message}`));
    saveServedHtml(page, 'admin');

    // 1. Signed out, "/" sends you to the login page.
    await must('GET / redirects to /login', async () => {
      const res = await page.goto(`${BASE_URL}/`, { waitUntil: 'load' });
      const url = new URL(page.url());
      if (url.pathname !== '/login') {
        throw new Error(`ended at ${page.url()} (HTTP ${res ? res.status() : '?'}), expected /login`);
      }
    });

    await must('login page has labelled Email and Password fields and a Sign in button', async () => {
      await page.getByLabel('Email', { exact: true }).waitFor({ state: 'visible' });
      await page.getByLabel('Password', { exact: true }).waitFor({ state: 'visible' });
      await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor({ state: 'visible' });
    });

    // 2. Accessibility of the login page, before signing in.
    await axeScan(page, 'login page');

    // 3. Sign in.
    await must('sign in lands on /w/<workspace>/users', async () => {
      await page.getByLabel('Email', { exact: true }).fill(EMAIL);
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      const landed = page.waitForURL(/\/w\/[^/]+\/users/, { timeout: NAV_TIMEOUT_MS }).then(() => 'users');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      // A rejected sign-in re-renders the form with a role=alert message: stop
      // at once instead of waiting out the navigation timeout.
      const rejected = page
        .locator('[role=alert]')
        .first()
        .waitFor({ state: 'visible', timeout: NAV_TIMEOUT_MS })
        .then(() => 'alert');
      const outcome = await Promise.race([landed, rejected]).catch((err) => err);
      landed.catch(() => {});
      rejected.catch(() => {});
      if (outcome !== 'users') {
        const alert = await page.locator('[role=alert]').first().textContent({ timeout: 1000 }).catch(() => null);
        const why = outcome instanceof Error ? outcome.message.split('\n')[0] : 'sign-in was rejected';
        throw new Error(`${why}; now at ${page.url()}${alert ? `; page says: ${alert.trim()}` : ''}`);
      }
      await page.waitForLoadState('load');
    });

    // 4. The Users page.
    await must('Users page shows an h1 "Users"', async () => {
      await page.getByRole('heading', { level: 1, name: 'Users', exact: true }).waitFor({ state: 'visible' });
    });

    const seats = page.getByText(/seats used/).first();
    const seatsVisible = await seats.isVisible().catch(() => false);
    const seatsText = seatsVisible ? (await seats.textContent()).trim() : '';
    check(`Users page shows seat usage ("${seatsText}")`, seatsVisible, 'no visible text matching /seats used/');

    await axeScan(page, 'Users page');

    if (SCREENSHOT) {
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      console.log(`note screenshot (desktop): ${SCREENSHOT}`);
    }

    // 5. Phone width: no horizontal scrolling of the page.
    await page.setViewportSize(PHONE);
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await noHorizontalScroll(page, 'Users page');

    if (SCREENSHOT) {
      const p = phonePath(SCREENSHOT);
      await page.screenshot({ path: p, fullPage: true });
      console.log(`note screenshot (phone): ${p}`);
    }

    // 6. The account page, from the top bar: axe at desktop width, no scroll on a phone.
    await page.setViewportSize(DESKTOP);
    await must('the top bar leads to the account page', async () => {
      await page.locator('header.topbar').getByRole('link', { name: 'Account', exact: true }).click();
      await page.getByRole('heading', { level: 1, name: 'Your account', exact: true }).waitFor({ state: 'visible' });
    });
    await axeScan(page, 'account page');
    if (SCREENSHOT) await page.screenshot({ path: SCREENSHOT.replace(/\.png$/, '-account.png'), fullPage: true });
    await page.setViewportSize(PHONE);
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await noHorizontalScroll(page, 'account page');
    if (SCREENSHOT) await page.screenshot({ path: phonePath(SCREENSHOT.replace(/\.png$/, '-account.png')), fullPage: true });

    // 7. Roles (the permission matrix), Settings, Requests and a member page with its
    //    edit forms: axe at desktop width, no sideways scroll on a phone.
    for (const screen of ['Roles', 'Settings', 'Requests']) {
      await page.setViewportSize(DESKTOP);
      await page.goto(`${BASE_URL}/`, { waitUntil: 'load' });
      await must(`the nav leads to ${screen}`, async () => {
        await page.locator('nav.mainnav').getByRole('link', { name: screen, exact: true }).click();
        await page.getByRole('heading', { level: 1, name: screen, exact: true }).waitFor({ state: 'visible' });
      });
      await axeScan(page, `${screen} page`);
      await page.setViewportSize(PHONE);
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      await noHorizontalScroll(page, `${screen} page`);
    }
    await page.setViewportSize(DESKTOP);
    await page.goto(`${BASE_URL}/`, { waitUntil: 'load' });
    await must('a member page opens from the Users screen with its edit forms', async () => {
      await page.locator('a.member-name').first().click();
      await page.getByRole('heading', { level: 2, name: 'Effective permissions', exact: true }).waitFor({ state: 'visible' });
      await page.getByRole('button', { name: 'Save changes', exact: true }).waitFor({ state: 'visible' });
    });
    await axeScan(page, 'member page');
    await page.setViewportSize(PHONE);
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await noHorizontalScroll(page, 'member page');

    if (INVITEE) {
      await page.setViewportSize(DESKTOP);
      await page.goto(`${BASE_URL}/`, { waitUntil: 'load' });
      await inviteAndAccept(browser, page);
    }

    await context.close();
  } finally {
    await browser.close().catch(() => {});
  }
}

// At phone width the page must not scroll sideways.
async function noHorizontalScroll(page, label) {
  const widths = await page.evaluate((limit) => {
    const offenders = [];
    for (const el of document.querySelectorAll('body *')) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > limit + 1) {
        // Report only the outermost overflowing elements.
        const parent = el.parentElement;
        const pr = parent ? parent.getBoundingClientRect() : null;
        if (!pr || pr.right <= limit + 1) {
          const id = el.id ? `#${el.id}` : '';
          const cls = el.classList.length ? `.${[...el.classList].join('.')}` : '';
          offenders.push(`${el.tagName.toLowerCase()}${id}${cls} right=${Math.round(r.right)}px`);
        }
      }
    }
    return {
      scrollWidth: document.documentElement.scrollWidth,
      offenders: offenders.slice(0, 10),
    };
  }, PHONE.width);
  check(
    `${label} at phone width ${PHONE.width}px: no horizontal page scroll (scrollWidth ${widths.scrollWidth})`,
    widths.scrollWidth <= PHONE.width + 1,
    `elements sticking out past ${PHONE.width}px:\n${widths.offenders.join('\n')}`,
  );

}

async function waitForLinkFile() {
  for (let i = 0; i < 100; i += 1) {
    if (existsSync(LINK_FILE)) {
      const link = readFileSync(LINK_FILE, 'utf8').trim();
      if (link) return link;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no invitation link appeared in ${LINK_FILE}`);
}

// 7. Invite someone from the Invites screen, then accept as them from the mailed link.
async function inviteAndAccept(browser, page) {
  await must('the nav leads to the Invites screen', async () => {
    await page.locator('nav.mainnav').getByRole('link', { name: 'Invites', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Invites', exact: true }).waitFor({ state: 'visible' });
  });
  await axeScan(page, 'Invites page');
  await must(`invite ${INVITEE} as Member`, async () => {
    await page.getByLabel('Email addresses', { exact: true }).fill(INVITEE);
    await page.getByRole('checkbox', { name: /^Member\b/ }).check();
    await page.getByRole('button', { name: 'Send invites', exact: true }).click();
    await page.getByText('Sent 1 invitation.').waitFor({ state: 'visible' });
  });
  const link = await must('the invitation mail arrived with a link', waitForLinkFile);
  const invitee = await browser.newContext({ viewport: DESKTOP, locale: 'en-US' });
  try {
    const p = await invitee.newPage();
    saveServedHtml(p, 'invitee');
    p.setDefaultTimeout(ACTION_TIMEOUT_MS);
    p.setDefaultNavigationTimeout(NAV_TIMEOUT_MS);
    await must('the mailed link opens the invitation page', async () => {
      const res = await p.goto(link, { waitUntil: 'load' });
      if (!res || res.status() !== 200) throw new Error(`HTTP ${res ? res.status() : '?'} at ${p.url()}`);
      await p.getByRole('heading', { level: 1, name: /^Join / }).waitFor({ state: 'visible' });
    });
    await axeScan(p, 'invitation page');
    await must('creating the account lands on the Users screen', async () => {
      await p.getByLabel('Your name', { exact: true }).fill('Invited Person');
      await p.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await p.getByLabel('Confirm password', { exact: true }).fill(PASSWORD);
      await p.getByRole('button', { name: /^Create account and join/ }).click();
      await p.waitForURL(/\/w\/[^/]+\/users/, { timeout: NAV_TIMEOUT_MS });
      await p.getByText('Welcome! You have joined the workspace.').waitFor({ state: 'visible' });
      await p.getByRole('heading', { level: 1, name: 'Users', exact: true }).waitFor({ state: 'visible' });
    });
  } finally {
    await invitee.close().catch(() => {});
  }
}

const watchdog = setTimeout(() => {
  console.error(`browser: gave up after ${TOTAL_BUDGET_MS / 1000}s (${passed} passed, ${failures.length} failed so far)`);
  process.exit(1);
}, TOTAL_BUDGET_MS);
watchdog.unref();

try {
  await run();
} catch (err) {
  if (!(err instanceof Abort)) {
    fail('browser run', String(err && err.stack ? err.stack : err).split('\n').slice(0, 8).join('\n'));
  }
}
clearTimeout(watchdog);

if (failures.length) {
  console.log(`browser: ${passed} checks passed, ${failures.length} failed`);
  process.exit(1);
}
console.log(`browser: ${passed} checks passed`);
