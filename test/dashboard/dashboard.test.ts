import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import { get, post, uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';

/**
 * The dashboard at `/` in a real browser: Debian's chromium (installed by
 * .ci/run) driven by playwright-core, against a real instance with every
 * role. Screenshots go to .squall/dashboard/ (docs/dashboard.png is one).
 */
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = join('.squall', 'dashboard');
const WAIT_MS = 20_000;

let instance: Instance;
let context: BrowserContext;
let userDataDir: string;
const pageErrors: string[] = [];

beforeAll(async () => {
  // Stats every 500 ms so a count change shows up quickly (the default is 2 s).
  instance = await startInstance({ STATS_INTERVAL_MS: '500' });
  // A fresh profile: no cache, no state from an earlier run.
  userDataDir = mkdtempSync(join(tmpdir(), 'squall-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
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
    viewport: { width: 1280, height: 680 },
  });
  context.setDefaultTimeout(WAIT_MS);
  mkdirSync(SCREENSHOTS, { recursive: true });
}, 60_000);

afterAll(async () => {
  await context?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  await stopAllInstances();
});

async function openDashboard(): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${instance.url}/`);
  await page.locator('#status[data-state="connected"]').waitFor();
  return page;
}

async function subscribe(page: Page, channel: string): Promise<void> {
  await page.fill('#channel', channel);
  await page.click('#subscribe-form button');
  // Set once the server confirmed the subscription: a publish after it is delivered.
  await page.locator(`#messages[data-ready="${channel}"]`).waitFor({ state: 'attached' });
}

/**
 * What page-side functions read, typed by hand: the test's TypeScript has no
 * DOM types. (Functions, not strings: the page's CSP forbids eval, which
 * string expressions need.)
 */
type PageGlobals = {
  document: { querySelector(selector: string): { textContent: string | null; value?: number } | null };
};
const totalConnections = async (page: Page) => Number(await page.textContent('#total-connections'));

describe('the dashboard at /', () => {
  it('serves the page and its bundled script; sys:stats is written only by the service', async () => {
    const page = await fetch(`${instance.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('<script type="module" src="/dashboard/app.js">');

    const script = await fetch(`${instance.url}/dashboard/app.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    // The SDK is bundled in: the script makes its own WebSocket connection to /v1/ws.
    expect(await script.text()).toContain('/v1/ws');

    // The strict query rule holds here as on every route.
    expect((await get(instance.url, '/?x[]=1')).status).toBe(400);
    const forged = await post(instance.url, '/v1/channels/sys:stats/messages', {
      data: { instance: 'fake' },
    });
    expect(forged.status).toBe(403);
  });

  it('streams a message published in one tab to another, with its seq', async () => {
    const channel = uniqueChannel('chat');
    const [one, two] = [await openDashboard(), await openDashboard()];
    await subscribe(one, channel);
    await subscribe(two, channel);

    await one.fill('#text', 'hello from tab one');
    await one.press('#text', 'Enter');
    const received = two.locator('#messages li[data-seq="1"] .text');
    await received.waitFor();
    expect(await received.textContent()).toBe('hello from tab one');
    // The publishing tab sees its own message too, with the same seq.
    expect(await one.locator('#messages li[data-seq="1"] .text').textContent()).toBe('hello from tab one');

    await two.fill('#text', 'and back from tab two');
    await two.press('#text', 'Enter');
    await one.locator('#messages li[data-seq="2"] .text', { hasText: 'and back from tab two' }).waitFor();
    await two.screenshot({ path: join(SCREENSHOTS, 'chat-tab-two.png') });
    await one.close();
    await two.close();
  });

  it("fills a job's progress bar to 100 % and lists the job", async () => {
    const page = await openDashboard();
    // test.sleep (the suite's own job type) takes the same payload as demo.sleep.
    await page.fill('#job-type', 'test.sleep');
    await page.fill('#job-ms', '800');
    await page.fill('#job-steps', '4');
    await page.click('#job-form button');
    // Progress moves through the steps before the end.
    await page.waitForFunction(() => {
      const bar = (globalThis as unknown as PageGlobals).document.querySelector('#job-progress')!;
      return bar.value! > 0 && bar.value! < 100;
    });
    await page.locator('#job-progress[data-state="completed"]').waitFor({ state: 'attached' });
    // The bar's value reflects to its attribute.
    expect(await page.getAttribute('#job-progress', 'value')).toBe('100');
    await page
      .locator('#jobs tr', { hasText: 'test.sleep' })
      .filter({ hasText: 'completed' })
      .first()
      .waitFor();
    await page.close();
  });

  it('reconnects with the token typed into the token field (auth off accepts it)', async () => {
    const page = await openDashboard();
    // The SDK puts the token on the WebSocket URL (browsers cannot set headers there).
    const withToken = page.waitForEvent('websocket', {
      predicate: (ws) => new URL(ws.url()).searchParams.get('token') === 'dashboard-token',
    });
    await page.fill('#token', 'dashboard-token');
    await page.click('#reconnect');
    await withToken;
    // The new client subscribed again over it: the channel view is ready once more.
    await page.locator('#messages[data-ready]').waitFor({ state: 'attached' });
    expect(await page.getAttribute('#status', 'data-state')).toBe('connected');
    await page.close();
  });

  it('shows the instance counts, and they change when another page connects', async () => {
    const channel = uniqueChannel('chat');
    const [one, two] = [await openDashboard(), await openDashboard()];
    await subscribe(one, channel);
    await subscribe(two, channel);
    // The instance's own row, fed by sys:stats.
    await one.locator('#instances tr[data-instance]').first().waitFor();
    // Both pages hold a WebSocket each; wait until a stats message says so.
    await one.waitForFunction(
      () =>
        Number(
          (globalThis as unknown as PageGlobals).document.querySelector('#total-connections')!.textContent,
        ) >= 2,
    );
    const before = await totalConnections(one);

    const three = await openDashboard();
    await one.waitForFunction(
      // Functions run in the page are serialised: the helper is inlined, not closed over.
      (n) =>
        Number(
          (globalThis as unknown as PageGlobals).document.querySelector('#total-connections')!.textContent,
        ) > n,
      before,
    );
    expect(await totalConnections(one)).toBeGreaterThan(before);

    await one.fill('#text', 'a message for the screenshot');
    await one.press('#text', 'Enter');
    await one.locator('#messages li[data-seq="1"]').waitFor();
    await one.fill('#job-type', 'test.sleep');
    await one.fill('#job-ms', '400');
    await one.click('#job-form button');
    await one.locator('#job-progress[data-state="completed"]').waitFor({ state: 'attached' });
    await one.screenshot({ path: join(SCREENSHOTS, 'dashboard.png') });
    await three.close();
    await two.close();
    await one.close();
    expect(pageErrors).toEqual([]);
  });
});
