// Headless-browser check of every Gatehouse screen a new admin meets.
//
// Signs in through the real login form and visits the login, Users, account,
// member, Roles, new-role, Settings, Requests, ask-for-a-permission, Domains,
// invite link, audit log, membership diff, Users as of a date, Invites,
// invitation, 403 and 404 pages. On each: axe (WCAG 2.0/2.1 A and AA), no
// horizontal scroll at 390 px, and screenshots at 1280 px and 390 px under
// SHOT_DIR. Layout checks: the member page is one form with one Save and stays
// short (issue 11.9); the Invites table puts address and name on lines of their
// own and keeps every cell and button on screen on a phone (11.11);
// permissions read by label first, key second, and error pages keep the top
// bar (11.14).
//
// Uses the system Chromium (Debian's `chromium` package); it never downloads
// a browser.
//
// Environment:
//   BASE_URL    e.g. http://127.0.0.1:18181          (required)
//   EMAIL       e-mail of an existing member           (required)
//   PASSWORD    that member's password                 (required)
//   SHOT_DIR    optional folder for the screenshots (<screen>-1280.png, <screen>-390.png)
//   VIEWER_EMAIL optional: a Viewer of the same workspace (same password), who is
//               shown the 403 page
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

const TOTAL_BUDGET_MS = 150_000; // the whole run, every screen at two widths
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
const SHOT_DIR = env.SHOT_DIR || '';
const VIEWER_EMAIL = env.VIEWER_EMAIL || '';
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

async function settle(page) {
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

async function shot(page, name) {
  if (!SHOT_DIR) return;
  const path = join(SHOT_DIR, name);
  await page.screenshot({ path, fullPage: true });
}

// One screen at both widths: axe and a screenshot at 1280 px; no sideways scroll and a
// screenshot at 390 px; `checks.desktop` / `checks.phone` run at their width.
async function screen(page, label, file, checks = {}) {
  await page.setViewportSize(DESKTOP);
  await settle(page);
  await axeScan(page, label);
  if (checks.desktop) await checks.desktop(page);
  await shot(page, `${file}-1280.png`);
  await page.setViewportSize(PHONE);
  await settle(page);
  await noHorizontalScroll(page, label);
  if (checks.phone) await checks.phone(page);
  await shot(page, `${file}-390.png`);
  await page.setViewportSize(DESKTOP);
  await settle(page);
}

// 11.14: a permission reads by its label first, its key second.
function labelBeforeKey(text, label, key) {
  const l = text.indexOf(label);
  const k = text.indexOf(key);
  return l >= 0 && k > l;
}

async function labelsFirstOnRoles(page) {
  const row = (await page.locator('table.matrix tbody th').first().innerText()).replace(/\s+/g, ' ');
  check(`Roles matrix reads "View members" before its key ("${row.slice(0, 60)}")`, labelBeforeKey(row, 'View members', 'members.view'));
}

async function labelsFirstOnRoleForm(page) {
  const label = (await page.locator('label[for="perm-members-edit"]').innerText()).replace(/\s+/g, ' ');
  check(`role form labels a permission by name, then key ("${label.slice(0, 60)}")`, labelBeforeKey(label, 'Edit members', 'members.edit'));
}

// 11.9: the member page is one "Edit member" form with one Save, and short.
async function memberPageIsOneShortForm(page, width, maxHeight) {
  const facts = await page.evaluate(() => {
    const forms = [...document.querySelectorAll('form')].filter((f) => f.querySelector('[name="department"]'));
    const saves = [...document.querySelectorAll('button')].filter((b) => /^Save/.test(b.textContent.trim()));
    const edit = forms[0];
    return {
      editForms: forms.length,
      saves: saves.map((b) => b.textContent.trim()),
      fields: edit ? ['role', 'seat_type', 'manager_id', 'department', 'metadata'].filter((n) => edit.querySelector(`[name="${n}"]`)) : [],
      height: document.documentElement.scrollHeight,
    };
  });
  if (width === 'desktop') {
    check(
      `member page: one form holds roles, seat, manager, department and metadata (${facts.fields.join(', ')})`,
      facts.editForms === 1 && facts.fields.length === 5,
    );
    check(`member page: one Save button (${facts.saves.join(', ') || 'none'})`, facts.saves.length === 1 && facts.saves[0] === 'Save changes');
  }
  console.log(`note member page height at ${width}: ${facts.height}px`);
  check(`member page at ${width} is at most ${maxHeight}px tall (${facts.height}px)`, facts.height <= maxHeight);
}

// 11.11: each invitation's address, name and account note on lines of their own, and on
// a phone every cell and button of a row on screen.
async function invitesTableReads(page) {
  const width = page.viewportSize().width;
  const rows = await page.evaluate((limit) => {
    return [...document.querySelectorAll('table.invites tbody tr')].map((tr) => {
      const box = (el) => (el ? el.getBoundingClientRect() : null);
      const address = box(tr.querySelector('.email-address'));
      const name = box(tr.querySelector('.invitee-name'));
      const outside = [...tr.querySelectorAll('td, button, a')]
        .filter((el) => el.getBoundingClientRect().width > 0)
        .filter((el) => el.getBoundingClientRect().right > limit + 1 || el.getBoundingClientRect().left < -1)
        .map((el) => `${el.tagName.toLowerCase()}${el.dataset.label ? `[${el.dataset.label}]` : ''}: ${el.textContent.trim().slice(0, 30)}`);
      const hidden = ['Status', 'Actions']
        .filter((label) => {
          const td = tr.querySelector(`td[data-label="${label}"]`);
          return td && td.getBoundingClientRect().height === 0;
        });
      return {
        status: tr.className,
        separateLines: !name || !address || name.top >= address.bottom - 1,
        outside,
        hidden,
      };
    });
  }, width);
  check(`Invites table at ${width}px has rows (${rows.map((r) => r.status).join(', ')})`, rows.length >= 2);
  const merged = rows.filter((r) => !r.separateLines);
  check(`Invites table at ${width}px: address and name on lines of their own`, merged.length === 0);
  const off = rows.flatMap((r) => r.outside);
  const hidden = rows.flatMap((r) => r.hidden);
  check(`Invites table at ${width}px: every cell and button on screen`, off.length === 0 && hidden.length === 0, [...off, ...hidden].join('\n'));
}

// 11.14: error pages keep the top bar (who is signed in, the way out).
async function topBarKept(page) {
  const bar = page.locator('header.topbar');
  const name = await bar.locator('.account-name').isVisible().catch(() => false);
  const out = await bar.getByRole('button', { name: 'Sign out', exact: true }).isVisible().catch(() => false);
  check(`${await page.title()}: the top bar shows the account and Sign out`, name && out);
}

async function forbiddenNamesThePermission(page) {
  const why = (await page.locator('.why').first().innerText()).replace(/\s+/g, ' ');
  check(`403 page names the permission by label, then key ("${why.slice(0, 70)}")`, labelBeforeKey(why, 'Invite people', 'members.invite'));
  const nav = await page.locator('nav.mainnav').isVisible().catch(() => false);
  check('403 page keeps the workspace navigation', nav);
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

    // 2. The login page, before signing in.
    await screen(page, 'login page', 'login');

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
    await screen(page, 'Users page', 'users');

    // 5. The account page, from the top bar.
    await must('the top bar leads to the account page', async () => {
      await page.locator('header.topbar').getByRole('link', { name: 'Account', exact: true }).click();
      await page.getByRole('heading', { level: 1, name: 'Your account', exact: true }).waitFor({ state: 'visible' });
    });
    await screen(page, 'account page', 'account');

    // 6. Roles (the permission matrix), Settings and Requests, from the nav.
    for (const name of ['Roles', 'Settings', 'Requests']) {
      await page.goto(`${BASE_URL}/`, { waitUntil: 'load' });
      await must(`the nav leads to ${name}`, async () => {
        await page.locator('nav.mainnav').getByRole('link', { name: new RegExp(`^${name}`) }).click();
        await page.getByRole('heading', { level: 1, name, exact: true }).waitFor({ state: 'visible' });
      });
      await screen(page, `${name} page`, name.toLowerCase(), name === 'Roles' ? { desktop: labelsFirstOnRoles } : {});
    }
    const workspace = new URL(page.url()).pathname.split('/')[2];
    await page.goto(`${BASE_URL}/w/${workspace}/roles/new`, { waitUntil: 'load' });
    await screen(page, 'new role form', 'role-new', { desktop: labelsFirstOnRoleForm });
    await page.goto(`${BASE_URL}/w/${workspace}/requests/new`, { waitUntil: 'load' });
    await screen(page, 'ask-for-a-permission page', 'request-new');

    // 6b. The ways in and the record of changes: Domains (a verified domain with its join
    // policy form), the invite link, the audit log, the membership diff and the Users list
    // as of a date.
    const today = new Date().toISOString().slice(0, 10);
    for (const [path, label, file, heading] of [
      ['/settings/domains', 'Domains page', 'domains', 'Domains'],
      ['/settings/link', 'invite link page', 'link', 'Invite link'],
      ['/audit', 'audit log', 'audit', 'Audit log'],
      [`/audit/diff?from=2026-01-01&to=${today}`, 'membership diff', 'audit-diff', null],
      [`/users?as_of=${today}`, 'Users as of a date', 'users-as-of', null],
    ]) {
      await page.goto(`${BASE_URL}/w/${workspace}${path}`, { waitUntil: 'load' });
      await must(`${label} opens`, async () => {
        await page.getByRole('heading', { level: 1, ...(heading ? { name: heading, exact: true } : {}) }).first().waitFor({ state: 'visible' });
      });
      await screen(page, label, file);
    }

    // 7. A member page: one form, one Save, short.
    await page.goto(`${BASE_URL}/w/${workspace}/users`, { waitUntil: 'load' });
    await must('a member page opens from the Users screen', async () => {
      await page.locator('a.member-name').first().click();
      await page.getByRole('heading', { level: 2, name: 'Effective permissions', exact: true }).waitFor({ state: 'visible' });
    });
    await screen(page, 'member page', 'member', {
      desktop: (p) => memberPageIsOneShortForm(p, 'desktop', 1600),
      phone: (p) => memberPageIsOneShortForm(p, 'phone', 2600),
    });

    // 8. Invite and accept, then the Invites screen with an accepted and a pending row.
    if (INVITEE) {
      await page.goto(`${BASE_URL}/`, { waitUntil: 'load' });
      await inviteAndAccept(browser, page);
      await must('a second, named invitation is sent', async () => {
        await page.goto(`${BASE_URL}/w/${workspace}/invites`, { waitUntil: 'load' });
        await page.getByLabel('Email addresses', { exact: true }).fill('grace.hopper.with.a.long.address@gmail.example');
        await page.locator('details.more summary').click();
        await page.getByLabel(/^Name/).fill('Grace Brewster Murray Hopper');
        await page.getByRole('checkbox', { name: /^Member\b/ }).check();
        await page.getByRole('button', { name: 'Send invites', exact: true }).click();
        await page.getByText('Sent 1 invitation.').waitFor({ state: 'visible' });
      });
      await page.goto(`${BASE_URL}/w/${workspace}/invites`, { waitUntil: 'load' });
      await screen(page, 'Invites page', 'invites', { desktop: invitesTableReads, phone: invitesTableReads });
    }

    // 9. Error pages keep the top bar: 404 here, 403 for a Viewer.
    await page.goto(`${BASE_URL}/w/${workspace}/users/999999`, { waitUntil: 'load' });
    await screen(page, '404 page', 'not-found', { desktop: topBarKept });
    if (VIEWER_EMAIL) {
      const viewer = await browser.newContext({ viewport: DESKTOP, locale: 'en-US' });
      try {
        const v = await viewer.newPage();
        v.setDefaultTimeout(ACTION_TIMEOUT_MS);
        saveServedHtml(v, 'viewer');
        await must('a Viewer signs in', async () => {
          await v.goto(`${BASE_URL}/login`, { waitUntil: 'load' });
          await v.getByLabel('Email', { exact: true }).fill(VIEWER_EMAIL);
          await v.getByLabel('Password', { exact: true }).fill(PASSWORD);
          await v.getByRole('button', { name: 'Sign in', exact: true }).click();
          await v.waitForURL(/\/w\/[^/]+\/users/, { timeout: NAV_TIMEOUT_MS });
        });
        const res = await v.goto(`${BASE_URL}/w/${workspace}/invites`, { waitUntil: 'load' });
        check(`the Invites screen refuses a Viewer (HTTP ${res ? res.status() : '?'})`, res && res.status() === 403);
        await screen(v, '403 page', 'forbidden', { desktop: async (p) => { await topBarKept(p); await forbiddenNamesThePermission(p); } });
      } finally {
        await viewer.close().catch(() => {});
      }
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
    await screen(p, 'invitation page', 'invitation');
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
