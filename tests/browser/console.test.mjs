// Real-browser test of the easyim web console.
//
// Run with:
//   cargo build --release            # builds target/release/easyim
//   cd tests/browser && npm ci && node console.test.mjs
//
// Env: EASYIM_BIN (default <repo>/target/release/easyim), SCREENSHOT_DIR (default
// <repo>/target/browser), CHROMIUM (default /usr/bin/chromium).
// Starts the server in a fresh temp dir on free ports, drives two browser contexts
// (two users) through the page served at `/`, and exits non-zero on any failure.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fromEnv = (name, fallback) => (process.env[name]
  ? path.resolve(process.env[name]) : path.resolve(repoRoot, fallback));
const BIN = fromEnv('EASYIM_BIN', 'target/release/easyim');
const SHOTS = fromEnv('SCREENSHOT_DIR', 'target/browser');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = 15000;

// ---- tiny harness ------------------------------------------------------------

const results = [];
let aborted = false;
async function test(name, fn) {
  if (aborted) { results.push([name, 'skipped']); console.log(`- ${name} (skipped)`); return; }
  const t0 = Date.now();
  try {
    await fn();
    results.push([name, 'passed']);
    console.log(`ok ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push([name, 'failed']);
    aborted = true; // later tests build on earlier ones
    console.log(`FAIL ${name}\n  ${String(e && e.stack || e).split('\n').join('\n  ')}`);
  }
}
function assert(cond, msg) { if (!cond) throw new Error(`assertion failed: ${msg}`); }

// ---- server ------------------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

function portOpen(port) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    sock.once('error', () => resolve(false));
  });
}

async function startServer() {
  if (!fs.existsSync(BIN)) throw new Error(`server binary not found: ${BIN} (set EASYIM_BIN)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'easyim-browser-'));
  const imPort = await freePort();
  let apiPort = await freePort();
  while (apiPort === imPort) apiPort = await freePort();
  const logFile = path.join(dir, 'server.log');
  const out = fs.openSync(logFile, 'a');
  const child = spawn(BIN, [], {
    cwd: dir,
    env: { ...process.env, SERVER_IP: '127.0.0.1', SERVER_PORT: String(imPort), API_SERVER_PORT: String(apiPort) },
    stdio: ['ignore', out, out],
  });
  let exited = null;
  child.on('exit', (code, signal) => { exited = `exited with ${signal || code}`; });
  const deadline = Date.now() + 30000;
  for (;;) {
    if (exited) throw new Error(`server ${exited}:\n${fs.readFileSync(logFile, 'utf8').slice(-4000)}`);
    if (await portOpen(imPort) && await portOpen(apiPort)) break;
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error('server did not open its ports in 30 s'); }
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(`server ${BIN} pid ${child.pid}, IM port ${imPort}, API port ${apiPort}, dir ${dir}`);
  return {
    child, dir, logFile, imPort, apiPort,
    async stop() {
      if (exited) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(timer);
    },
  };
}

// ---- page helpers ------------------------------------------------------------

const pageErrors = [];
const requestUrls = [];
async function openConsole(browser, base, label) {
  const context = await browser.newContext({ viewport: { width: 1360, height: 820 } });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on('pageerror', (e) => pageErrors.push(`${label}: ${e.message}`));
  page.on('request', (r) => requestUrls.push(r.url()));
  await page.goto(base);
  return page;
}

async function register(page, account, nickname) {
  await page.fill('#account', account);
  await page.fill('#password', 'secret-password-1');
  await page.fill('#nickname', nickname);
  await page.click('#register');
  await page.waitForFunction(() => document.querySelector('#me-id').textContent.trim() !== '');
  await page.waitForSelector('#conn-state[data-state="online"]');
  return (await page.textContent('#me-id')).trim();
}

async function openPeer(page, id, chatType = '0') {
  await page.selectOption('#chat-type', chatType);
  await page.fill('#peer-id', id);
  await page.click('#open-peer');
}

async function send(page, text) {
  await page.fill('#message-input', text);
  await page.click('#send');
  const msg = page.locator('.msg.out', { hasText: text }).last();
  await msg.waitFor();
  return msg.getAttribute('data-id');
}

const msgState = (page, id) => page.locator(`.msg[data-id="${id}"]`).getAttribute('data-state');
async function waitState(page, id, state) {
  await page.waitForSelector(`.msg[data-id="${id}"][data-state="${state}"]`).catch(async (e) => {
    throw new Error(`message ${id} stayed ${await msgState(page, id)}, wanted ${state}: ${e.message}`);
  });
}

const token = (page) => page.evaluate(() => JSON.parse(sessionStorage.getItem('easyim.me')).token);

// ---- the tests ---------------------------------------------------------------

let server;
let browser;
let a; // the two users' pages
let b;
let b2; // a second tab of B's
const shots = [];
try {
  server = await startServer();
  const base = `http://127.0.0.1:${server.apiPort}`;

  await test('the API port serves the console page and its assets', async () => {
    for (const [p, type, needle] of [['/', 'text/html', 'console.js'],
      ['/console.js', 'javascript', 'WebSocket'], ['/console.css', 'text/css', '#raw-log']]) {
      const res = await fetch(base + p);
      assert(res.status === 200, `GET ${p} is ${res.status}`);
      assert((res.headers.get('content-type') || '').includes(type), `GET ${p} content-type ${res.headers.get('content-type')}`);
      assert((await res.text()).includes(needle), `GET ${p} body has ${needle}`);
    }
  });

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  a = await openConsole(browser, `${base}/`, 'A');
  b = await openConsole(browser, `${base}/`, 'B');
  const tag = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  let aId, bId, firstId, replyId;

  await test('two users register in the UI and come online', async () => {
    aId = await register(a, `alice_${tag}`, 'Alice');
    bId = await register(b, `bob_${tag}`, 'Bob');
    assert(/^\d+$/.test(aId) && /^\d+$/.test(bId) && aId !== bId, `ids ${aId} ${bId}`);
  });

  await test('A messages B by id; B sees it; B replies; A sees the reply; receipts reach read', async () => {
    await openPeer(a, bId);
    firstId = await send(a, 'hello Bob, this is Alice');
    const delivered = b.locator(`.msg.in[data-id="${firstId}"]`);
    await delivered.waitFor();
    assert((await delivered.textContent()).includes('hello Bob, this is Alice'), 'B shows the text');
    assert(await b.inputValue('#peer-id') === aId, 'B opened the conversation with A');
    await waitState(a, firstId, 'read'); // B's page sent a READ receipt

    replyId = await send(b, 'hi Alice, Bob here');
    const reply = a.locator(`.msg.in[data-id="${replyId}"]`);
    await reply.waitFor();
    assert((await reply.textContent()).includes('hi Alice, Bob here'), 'A shows the reply');
    await waitState(b, replyId, 'read'); // A has the conversation open
    const conv = await a.getAttribute(`.msg[data-id="${firstId}"]`, 'data-conv-seq');
    const conv2 = await a.getAttribute(`.msg[data-id="${replyId}"]`, 'data-conv-seq');
    assert(Number(conv) === 1 && Number(conv2) === 2, `conv_seq ${conv}, ${conv2}`);

  });

  await test('A adds B as a friend; B accepts; both list each other', async () => {
    await a.fill('#friend-id', bId);
    await a.click('#add-friend');
    const accept = b.locator('#requests li button.accept'); // B is notified (FRIEND_REQUEST)
    await accept.waitFor();
    await accept.click();
    await b.locator(`#friends button.peer[data-id="${aId}"]`).waitFor();
    await a.click('#refresh-lists');
    await a.locator(`#friends button.peer[data-id="${bId}"]`).waitFor();
  });

  await test('A creates a group with B; B opens it from the conversation list; read state', async () => {
    await a.fill('#group-name', `team ${tag}`);
    await a.fill('#group-members', bId);
    await a.click('#create-group');
    await a.waitForFunction(() => document.querySelector('#chat-type').value === '1');
    const groupId = await a.inputValue('#peer-id');
    await a.locator(`#groups button.peer[data-id="${groupId}"]`).waitFor();
    const gid = await send(a, 'hello team');
    const entry = b.locator(`#convs button.peer[data-id="${groupId}"][data-chat-type="1"]`);
    await entry.waitFor(); // B has another conversation open: the group shows as unread
    assert(await entry.locator('.badge').textContent() === '1', 'one unread message');
    await waitState(a, gid, 'arrived');
    await entry.click();
    await b.locator(`.msg.in[data-id="${gid}"]`).waitFor();
    await waitState(a, gid, 'read');
    await openPeer(a, bId); // back to the 1:1 conversation for what follows
    await openPeer(b, aId);
  });

  await test('conversation list: badges and the total; one READ clears them, and read sync clears a second tab', async () => {
    b2 = await b.context().newPage(); // a second tab, with its own session: it logs in
    b2.setDefaultTimeout(TIMEOUT);
    b2.on('pageerror', (e) => pageErrors.push(`B2: ${e.message}`));
    b2.on('request', (r) => requestUrls.push(r.url()));
    await b2.goto(`${base}/`);
    await b2.fill('#account', `bob_${tag}`);
    await b2.fill('#password', 'secret-password-1');
    await b2.click('#login');
    await b2.waitForSelector('#conn-state[data-state="online"]');
    const groupId = await a.evaluate(() => [...document.querySelectorAll('#groups button.peer')]
      .map((e) => e.dataset.id)[0]);
    // The list comes from the server: the group, read already, has no badge.
    const entry = (page) => page.locator(`#convs button.peer[data-id="${groupId}"][data-chat-type="1"]`);
    await entry(b2).waitFor();
    assert(await entry(b2).locator('.badge').count() === 0, 'no badge for a read conversation');
    await openPeer(b2, aId); // both of B's tabs show the 1:1 conversation

    await openPeer(a, groupId, '1');
    const gid = await send(a, 'hello again, team');
    for (const page of [b, b2]) {
      await entry(page).locator('.badge').waitFor();
      assert(await entry(page).locator('.badge').textContent() === '1', 'one unread message');
      await page.waitForSelector('#total-unread:not([hidden])');
      assert(await page.textContent('#total-unread') === '1', 'the total');
    }
    await waitState(a, gid, 'arrived');

    await entry(b).click(); // shown in the first tab: one READ
    await b.locator(`.msg.in[data-id="${gid}"]`).waitFor();
    await waitState(a, gid, 'read');
    assert(await entry(b).locator('.badge').count() === 0, 'badge cleared where it was read');
    await entry(b2).locator('.badge').waitFor({ state: 'detached' }); // read sync
    await b2.waitForSelector('#total-unread', { state: 'hidden' });
    const res = await fetch(`${base}/api/conversations`, { headers: { Authorization: `Bearer ${await token(b)}` } });
    const data = (await res.json()).data;
    const g = data.items.find((it) => it.peer_id === groupId);
    assert(g && g.unread === 0 && g.read_seq === g.last_seq && data.total_unread === 0,
      `the server agrees: ${JSON.stringify(data)}`);

    // Muted: still delivered and counted on its entry, but out of the total.
    await b2.click('#conv-mute');
    await b2.waitForSelector(`#convs button.peer[data-id="${aId}"][data-muted="true"]`);
    await entry(b2).click(); // the 1:1 conversation is no longer on screen there
    await openPeer(a, bId);
    await send(a, 'a quiet one');
    const quiet = b2.locator(`#convs button.peer[data-id="${aId}"] .badge.muted`);
    await quiet.waitFor();
    assert(await b2.locator('#total-unread').isHidden(), 'a muted conversation is out of the total');
    await b2.click(`#convs button.peer[data-id="${aId}"]`);
    await quiet.waitFor({ state: 'detached' });
    await b2.click('#conv-mute');
    await b2.waitForSelector(`#convs button.peer[data-id="${aId}"][data-muted="false"]`);
    await openPeer(b, aId); // back to the 1:1 conversation for what follows
  });

  await test('the group panel: roles, the owner makes B an admin, mutes B (E_MUTED), mutes all', async () => {
    const groupId = await a.locator('#groups button.peer').first().getAttribute('data-id');
    await a.locator(`#groups button.peer[data-id="${groupId}"]`).click();
    const row = (page, id) => page.locator(`#group-member-list li[data-id="${id}"]`);
    await a.locator(`#group-member-list li[data-id="${aId}"][data-role="owner"]`).waitFor();
    await a.locator(`#group-member-list li[data-id="${bId}"][data-role="member"]`).waitFor();
    await row(a, bId).locator('button.role').click();
    await a.locator(`#group-member-list li[data-id="${bId}"][data-role="admin"]`).waitFor();
    await b.locator(`#groups button.peer[data-id="${groupId}"]`).click();
    await b.locator('.msg', { hasText: 'is now admin' }).waitFor();
    await b.locator('#group-admin-info', { hasText: 'you are admin' }).waitFor();
    // B, an admin, has no action on the owner.
    assert(await row(b, aId).locator('button').count() === 0, 'no action on the owner');
    await row(a, bId).locator('button.mute').click();
    await b.locator('.msg', { hasText: 'muted for 600s' }).waitFor();
    const quiet = await send(b, `quiet ${tag}`);
    await waitState(b, quiet, 'error');
    const why = await b.locator(`.msg[data-id="${quiet}"] .msg-error`).textContent();
    assert(why.includes('E_MUTED'), `the error: ${why}`);
    await row(a, bId).locator('button.mute', { hasText: 'unmute' }).click();
    await b.locator('.msg', { hasText: 'may speak again' }).waitFor();
    await a.click('#group-mute-all');
    await a.locator('#group-admin-info', { hasText: 'muted for members' }).waitFor();
    await b.locator('.msg', { hasText: 'only the owner and admins may speak' }).waitFor();
    const spoken = await send(b, `admins speak ${tag}`);
    await a.locator(`.msg.in[data-id="${spoken}"]`).waitFor();
    await a.click('#group-mute-all');
    await b.locator('.msg', { hasText: 'everyone may speak again' }).waitFor();
    await openPeer(a, bId); // back to the 1:1 conversation for what follows
    await openPeer(b, aId);
  });

  await test('online dots, typing, reply, edit and recall between A and B', async () => {
    await a.click('#refresh-lists'); // friends with their presence (GET /api/presence)
    await a.waitForSelector(`#friends .dot[data-user="${bId}"][data-online="true"]`);
    await openPeer(a, bId);
    await openPeer(b, aId);
    await b.fill('#message-input', '');
    await b.type('#message-input', 'x'); // a TYPING frame
    await a.waitForSelector('#typing:not([hidden])');
    assert((await a.textContent('#typing')).includes('typing'), 'A sees B typing');
    await b.fill('#message-input', '');

    await a.locator(`.msg[data-id="${replyId}"] button.reply`).click();
    const quoteId = await send(a, 'quoting you');
    await b.waitForSelector(`.msg[data-id="${quoteId}"] .quote`);
    assert((await b.textContent(`.msg[data-id="${quoteId}"] .quote`)).includes('hi Alice'), 'B sees the quote');

    const edit = a.locator(`.msg[data-id="${quoteId}"] button.edit`);
    await edit.waitFor(); // once acked
    await edit.click();
    await a.fill('#message-input', 'quoting you, edited');
    await a.click('#send');
    await b.waitForSelector(`.msg[data-id="${quoteId}"] >> text=quoting you, edited`);
    assert((await b.textContent(`.msg[data-id="${quoteId}"] .meta`)).includes('edited'), 'B marks it edited');
    await a.waitForSelector(`.msg[data-id="${quoteId}"] >> text=quoting you, edited`);

    await a.locator(`.msg[data-id="${quoteId}"] button.recall`).click();
    for (const p of [a, b]) await p.waitForSelector(`.msg[data-id="${quoteId}"][data-recalled="true"]`);
    assert((await b.textContent(`.msg[data-id="${quoteId}"]`)).includes('message recalled'), 'B shows it recalled');
  });

  await test('the raw log shows frames both ways and never the access token', async () => {
    for (const page of [a, b]) {
      const log = await page.textContent('#raw-log');
      assert(log.includes('"to_user_id":"KEEP_ALIVE"') && log.includes('"content":"SUCCESS"'), 'login frames logged');
      assert(log.includes('"access_token":"***"'), 'token shown masked');
      assert(!log.includes(await token(page)), 'token not in the raw log');
    }
  });

  await test('tokens travel in headers, never in a URL', async () => {
    const tokens = [await token(a), await token(b), await token(b2)];
    const leaks = requestUrls.filter((u) => u.includes('access_token') || tokens.some((t) => u.includes(t)));
    assert(requestUrls.some((u) => u.includes('/api/')), 'API requests were seen');
    assert(leaks.length === 0, `URLs with a token: ${leaks.join(', ')}`);
  });

  await test('the raw frame debugger sends any frame and shows the error', async () => {
    await a.fill('#raw-input', JSON.stringify({ id: 'debug-1', seq: 4242, from_user_id: aId, to_user_id: bId,
      chat_type: 0, msg_type: 5, status: 1, content: 'a client NOTIFY is not allowed' }));
    await a.click('#raw-send');
    await a.waitForSelector('#raw-log .entry[data-dir="in"] >> text=E_BAD_MSG');
    assert(await a.getAttribute('#conn-state', 'data-state') === 'online', 'connection kept');
  });

  await test('after a reload the history is loaded with receipt states', async () => {
    await a.reload();
    await a.waitForSelector('#conn-state[data-state="online"]');
    assert((await a.textContent('#me-id')).trim() === aId, 'session kept across reload');
    await openPeer(a, bId);
    await waitState(a, firstId, 'read');
    await a.locator(`.msg.in[data-id="${replyId}"]`).waitFor();
  });

  await test('no JavaScript errors in the pages', async () => {
    assert(pageErrors.length === 0, pageErrors.join('\n'));
  });
} catch (e) {
  results.push(['setup', 'failed']);
  console.log(`FAIL setup\n  ${e && e.stack || e}`);
} finally {
  // Screenshots at the end, also on failure, where they help most.
  for (const [page, name] of [[a, 'console-a.png'], [b, 'console-b.png'], [b2, 'console-b2.png']]) {
    if (!page) continue;
    const file = path.join(SHOTS, name);
    fs.mkdirSync(SHOTS, { recursive: true });
    if (await page.screenshot({ path: file }).then(() => true, () => false)) shots.push(file);
  }
  if (browser) await browser.close().catch(() => {});
  if (server) {
    await server.stop().catch(() => {});
    if (results.some(([, r]) => r === 'failed')) {
      console.log(`--- server log (${server.logFile}), last lines ---`);
      console.log(fs.readFileSync(server.logFile, 'utf8').split('\n').slice(-40).join('\n'));
    } else {
      fs.rmSync(server.dir, { recursive: true, force: true });
    }
  }
}

for (const file of shots) console.log(`screenshot: ${file}`);
const count = (r) => results.filter(([, x]) => x === r).length;
const skipped = count('skipped');
console.log(`${count('passed')} passed, ${count('failed')} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(count('failed') || skipped || !count('passed') ? 1 : 0);
