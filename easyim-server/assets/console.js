// easyim web console: chat and protocol debugger in one page.
// Plain JavaScript, no dependencies. Speaks the JSON form of the wire protocol
// (protocol.md) over WebSocket and the HTTP API (http-api.md) with fetch.
'use strict';
(() => {
  const $ = (sel) => document.querySelector(sel);

  // `?server=host:port` points the page at another server (useful when the page is
  // opened from a file); by default it talks to the server that served it.
  const params = new URLSearchParams(location.search);
  const served = location.protocol === 'http:' || location.protocol === 'https:';
  const host = params.get('server') || location.host;
  const secure = served && location.protocol === 'https:' && !params.get('server');
  const API = served && !params.get('server') ? '' : `http://${host}`;
  const WS_URL = `${secure ? 'wss' : 'ws'}://${host}/ws`;
  const HEARTBEAT_MS = 30000;
  const LOG_LIMIT = 500;

  const ENUM = { SINGLE: 0, GROUP: 1, TEXT: 0, IMAGE: 1, VOICE: 2, VIDEO: 3, EVENT: 4, NOTIFY: 5,
    FAIL: 0, SENT: 1, ARRIVED: 2, READ: 3 };
  const TYPE_LABEL = ['', 'image', 'voice', 'video'];
  // Outgoing states only move forward; an error may still be followed by an ack.
  const RANK = { pending: 0, error: 0, sent: 1, arrived: 2, read: 3 };
  // After these the server closes the connection and retrying cannot help.
  const FATAL = new Set(['E_FIRST_MSG', 'E_AUTH', 'E_AUTH_REVOKED']);

  const S = {
    me: null, // {id, token, nickname, account}
    ws: null, online: false, wantOnline: false, fatal: null, retry: 0,
    heartbeat: null, reconnect: null,
    seq: 0, order: 0,
    convs: new Map(), // "chatType:peer" -> conversation
    byId: new Map(), // id of one of my messages -> conversation key
    current: null,
    names: new Map(), // user id -> nickname (friends)
    groupNames: new Map(),
    presence: new Map(), // user id -> online (friends)
    replyTo: null, // the message the next one answers
    editing: null, // the message the composer replaces
    typingSent: 0, typingTimer: null,
  };

  // ---- small helpers -------------------------------------------------------

  const str = (v) => (v === undefined || v === null ? '' : String(v));
  const num = (v) => (typeof v === 'string' && v in ENUM ? ENUM[v] : Number(v || 0) || 0);
  const time = (ms) => new Date(ms || Date.now()).toLocaleTimeString([], { hour12: false });

  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID(); // only in secure contexts
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k.startsWith('data-')) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children) if (c != null) e.append(c);
    return e;
  }

  function notice(text, kind = 'info') {
    const n = $('#notice');
    n.textContent = text;
    n.dataset.kind = kind;
    n.hidden = false;
    clearTimeout(notice.timer);
    notice.timer = setTimeout(() => { n.hidden = true; }, kind === 'error' ? 8000 : 4000);
  }
  const fail = (e) => notice(e.message || String(e), 'error');

  // ---- raw log (secrets masked) -------------------------------------------

  const SECRET = new Set(['access_token', 'refresh_token', 'token', 'password']);
  function mask(v) {
    if (Array.isArray(v)) return v.map(mask);
    if (v && typeof v === 'object') {
      const o = {};
      for (const [k, x] of Object.entries(v)) o[k] = SECRET.has(k) && x ? '***' : mask(x);
      return o;
    }
    return v;
  }
  function maskText(t) {
    t = t.replace(/("(?:access_token|refresh_token|token|password)"\s*:\s*)"(?:[^"\\]|\\.)*"/g, '$1"***"');
    if (S.me && S.me.token) t = t.split(S.me.token).join('***');
    return t;
  }

  function log(dir, data) {
    const box = $('#raw-log');
    const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 20;
    const text = maskText(typeof data === 'string' ? data : JSON.stringify(mask(data)));
    const arrow = { out: '→', in: '←', http: '⇄', sys: '•' }[dir] || dir;
    box.append(el('div', { class: 'entry', 'data-dir': dir },
      el('span', { class: 'when', text: time() }), el('span', { class: 'dir', text: arrow }),
      el('code', { text })));
    while (box.childElementCount > LOG_LIMIT) box.firstElementChild.remove();
    if (atEnd) box.scrollTop = box.scrollHeight;
  }

  // ---- HTTP API ------------------------------------------------------------

  // The token travels in the Authorization header, never in a URL (URLs end up in logs and
  // browser history).
  async function api(method, path, args = {}, token = S.me && S.me.token) {
    let url = API + path;
    const opts = { method, headers: {} };
    if (token) opts.headers.Authorization = `Bearer ${token}`;
    if (method === 'GET') url += `?${new URLSearchParams(args)}`;
    else { opts.headers['Content-Type'] = 'application/json'; opts.body = JSON.stringify(args); }
    log('http', `${method} ${path} ${JSON.stringify(mask(args))}`);
    let res, body;
    try {
      res = await fetch(url, opts);
      body = await res.json();
    } catch (e) {
      log('http', `${method} ${path} failed: ${e.message}`);
      throw new Error(`${method} ${path}: ${e.message}`);
    }
    log('http', `${res.status} ${path} ${JSON.stringify(mask(body))}`);
    if (!res.ok) {
      if (res.status === 401 && S.me && path !== '/api/user/login') notice('session expired: log in again', 'error');
      throw new Error(`${path}: ${body.msg || res.status}`);
    }
    return body.data || {};
  }

  // ---- account -------------------------------------------------------------

  async function authenticate(register) {
    const account = $('#account').value.trim();
    const password = $('#password').value;
    if (!account || !password) return notice('account and password are required', 'error');
    const args = register ? { account, password, nickname: $('#nickname').value.trim() || account }
      : { account, password };
    const data = await api('POST', register ? '/api/user/register' : '/api/user/login', args);
    $('#password').value = '';
    signedIn({ id: str(data.id), token: data.access_token, nickname: data.nickname || account, account });
  }

  function signedIn(me) {
    S.me = me;
    sessionStorage.setItem('easyim.me', JSON.stringify(me));
    $('#me-id').textContent = me.id;
    $('#me-name').textContent = me.nickname;
    $('#me').hidden = false;
    $('#auth').hidden = true;
    $('#contacts').hidden = false;
    $('#connect').hidden = false;
    $('#logout').hidden = false;
    document.title = `${me.nickname} (${me.id}) · easyim`;
    connect();
    refreshLists();
  }

  function signedOut() {
    S.wantOnline = false;
    if (S.ws) S.ws.close();
    sessionStorage.removeItem('easyim.me');
    S.me = null;
    S.convs.clear(); S.byId.clear(); S.current = null;
    $('#me').hidden = true;
    $('#auth').hidden = false;
    $('#contacts').hidden = true;
    $('#connect').hidden = true;
    $('#logout').hidden = true;
    document.title = 'easyim console';
    renderConvList(); renderChat();
  }

  // ---- WebSocket -----------------------------------------------------------

  function setConn(state, detail = '') {
    const c = $('#conn-state');
    c.dataset.state = state;
    c.textContent = state;
    c.title = detail;
    $('#connect').textContent = state === 'offline' ? 'connect' : 'disconnect';
  }

  const keepAlive = (token) => ({ msg_type: 4, to_user_id: 'KEEP_ALIVE', from_user_id: S.me.id,
    access_token: token, content: 'web-console' });

  function connect() {
    if (!S.me || (S.ws && S.ws.readyState <= WebSocket.OPEN)) return;
    clearTimeout(S.reconnect);
    S.wantOnline = true;
    S.fatal = null;
    setConn('connecting', WS_URL);
    log('sys', `connecting to ${WS_URL}`);
    const ws = new WebSocket(WS_URL);
    S.ws = ws;
    ws.onopen = () => sendFrame(keepAlive(S.me.token));
    ws.onmessage = (e) => (typeof e.data === 'string' ? onFrame(e.data) : log('in', '(binary frame ignored)'));
    ws.onclose = (e) => {
      if (S.ws !== ws) return;
      S.ws = null;
      S.online = false;
      clearInterval(S.heartbeat);
      setConn('offline', `closed ${e.code} ${e.reason}`);
      log('sys', `connection closed (${e.code}${S.fatal ? `, ${S.fatal}` : ''})`);
      if (S.wantOnline && !S.fatal && S.me) {
        const delay = Math.min(30000, 1000 * 2 ** S.retry++);
        S.reconnect = setTimeout(connect, delay);
      }
    };
  }

  function disconnect() {
    S.wantOnline = false;
    clearTimeout(S.reconnect);
    if (S.ws) S.ws.close(1000);
  }

  function sendFrame(frame) {
    if (!S.ws || S.ws.readyState !== WebSocket.OPEN) return false;
    S.ws.send(JSON.stringify(frame));
    log('out', frame);
    return true;
  }

  function loggedIn() {
    S.online = true;
    S.retry = 0;
    setConn('online');
    clearInterval(S.heartbeat);
    S.heartbeat = setInterval(() => sendFrame(keepAlive('')), HEARTBEAT_MS);
    // Anything not acked yet is resent with the same id: the server dedupes it.
    for (const conv of S.convs.values()) {
      for (const m of conv.msgs.values()) if (m.out && m.state === 'pending') transmit(m);
    }
    const cur = S.convs.get(S.current);
    if (cur) loadHistory(cur).catch(fail); // fill what we missed while away
    loadConversations().catch(fail); // and the unread counts
  }

  // ---- incoming frames -----------------------------------------------------

  function onFrame(text) {
    let f;
    try { f = JSON.parse(text); } catch { log('in', text); return; }
    log('in', f);
    if (!f || typeof f !== 'object' || !S.me) return;
    const msgType = num(f.msg_type);
    const status = num(f.status);
    if (msgType === 4) onEvent(f);
    else if (isGroupEvent(f)) onGroupEvent(f);
    else if (msgType === 5) onNotify(f);
    else if (status === 2 || status === 3) onReceipt(f, status);
    else if (msgType <= 3 || msgType === 6 || msgType === 7) onMessage(f);
    else if (msgType === 8) onTyping(f);
    else if (msgType === 9) onPresence(f);
  }

  // RECALL (6) and EDIT (7) are messages of their conversation, kept (for receipts) but not
  // shown: they change the message their ref_id names.
  function applyAmend(conv, f) {
    const target = conv.msgs.get(str(f.ref_id));
    if (!target || target.recalled) return;
    if (num(f.msg_type) === 6) {
      target.recalled = true;
      target.content = '';
    } else {
      target.content = str(f.content);
      target.editedAt = Number(f.timestamp) || Date.now();
    }
    updateMsg(target);
  }

  function onTyping(f) {
    const conv = convOf(f);
    if (S.current !== conv.key) return;
    const from = str(f.from_user_id);
    const box = $('#typing');
    box.textContent = `${S.names.get(from) || `#${from}`} is typing…`;
    box.hidden = false;
    clearTimeout(S.typingTimer);
    S.typingTimer = setTimeout(() => { box.hidden = true; }, 3000);
  }

  function onPresence(f) {
    S.presence.set(str(f.from_user_id), str(f.content) === 'online');
    renderPresence();
  }

  function renderPresence() {
    for (const dot of document.querySelectorAll('#friends .dot')) {
      const online = S.presence.get(dot.dataset.user) === true;
      dot.dataset.online = String(online);
      dot.title = online ? 'online' : 'offline';
    }
  }

  function onEvent(f) {
    if (str(f.from_user_id) === 'KEEP_ALIVE' && f.content === 'SUCCESS') {
      if (!S.online) loggedIn();
      else $('#conn-state').title = `heartbeat ok ${time()}`;
    }
  }

  function onNotify(f) {
    const content = str(f.content);
    const code = content.split(':')[0].trim();
    const m = findMsg(str(f.id));
    if (m && m.out && f.id) {
      m.error = content;
      if (RANK[m.state] === 0) m.state = 'error';
      updateMsg(m);
      return;
    }
    if (code === 'JOIN_REQUEST') {
      notice(`new join request (${content.slice(code.length + 1).trim()})`);
      const conv = S.convs.get(S.current);
      if (conv && conv.chatType === 1) loadGroupAdmin(conv.peer).catch(fail);
      return;
    }
    if (code === 'FRIEND_REQUEST') {
      notice(`new friend request (${content.slice(code.length + 1).trim()})`);
      loadRequests().catch(fail);
      return;
    }
    if (FATAL.has(code) && !(code === 'E_AUTH' && S.online)) {
      S.fatal = code;
      S.wantOnline = false;
      if (code !== 'E_FIRST_MSG') notice(`${content}: log in again`, 'error');
      if (code === 'E_AUTH_REVOKED' || code === 'E_AUTH') signedOut();
      return;
    }
    notice(content, 'error');
  }

  function findMsg(id) {
    if (!id) return null;
    const c = S.convs.get(S.byId.get(id));
    if (c && c.msgs.has(id)) return c.msgs.get(id);
    for (const conv of S.convs.values()) if (conv.msgs.has(id)) return conv.msgs.get(id);
    return null;
  }

  function onReceipt(f, status) {
    if (str(f.from_user_id) === S.me.id) return onReadSync(f);
    const target = findMsg(str(f.id));
    if (!target || !target.out) return;
    const conv = S.convs.get(target.conv);
    const state = status === 3 ? 'read' : 'arrived';
    // Receipts are cumulative: they cover every earlier message of mine in the conversation.
    for (const m of conv.msgs.values()) {
      if (m === target || (m.out && m.convSeq && target.convSeq && m.convSeq <= target.convSeq)) {
        if (RANK[state] > RANK[m.state]) { m.state = state; updateMsg(m); }
      }
    }
  }

  // Read on another device of mine (protocol.md, read sync): up to `conv_seq` is read, so
  // the badge clears there too and nothing up to it needs a receipt from here.
  function onReadSync(f) {
    const conv = getConv(num(f.chat_type), str(f.to_user_id));
    const upTo = Number(f.conv_seq) || 0;
    for (const m of conv.msgs.values()) {
      if (!m.out && m.convSeq && m.convSeq <= upTo) m.receipted = 3;
    }
    conv.unread = Math.min(conv.unread, Math.max(0, conv.lastSeq - upTo));
    renderConvList();
  }

  function convOf(f) {
    const chatType = num(f.chat_type);
    const from = str(f.from_user_id);
    const to = str(f.to_user_id);
    return getConv(chatType, chatType === 1 || from === S.me.id ? to : from);
  }

  function onMessage(f) {
    const id = str(f.id);
    const mine = str(f.from_user_id) === S.me.id;
    const known = findMsg(id);
    if (mine && known && known.out) { // the ack of one of my messages
      known.convSeq = Number(f.conv_seq) || known.convSeq;
      known.ts = Number(f.timestamp) || known.ts;
      known.error = '';
      if (RANK[known.state] < 1) known.state = 'sent';
      place(S.convs.get(known.conv), known);
      return;
    }
    const conv = convOf(f);
    if (conv.chatType === 1 && !S.groupNames.has(conv.peer)) { // someone added me to a group
      S.groupNames.set(conv.peer, '');
      loadGroups().catch(fail);
    }
    const m = upsert(conv, f, mine ? 'sent' : 'received');
    if (m.silent) applyAmend(conv, f);
    // A repeat means the server still counts it pending: acknowledge it again.
    if (!mine) m.receipted = 0;
    if (conv.lastSeq && m.convSeq > conv.lastSeq + 1 && conv.loaded) {
      loadHistory(conv, { after_seq: conv.lastSeq }).catch(fail); // a gap: fetch it
    }
    conv.lastSeq = Math.max(conv.lastSeq, m.convSeq || 0);
    conv.updatedAt = Math.max(conv.updatedAt, m.ts || Date.now());
    conv.hidden = false;
    if (!S.current) openConv(conv.chatType, conv.peer);
    else if (S.current === conv.key) acknowledge(conv);
    else {
      if (!mine) conv.unread += 1;
      acknowledge(conv);
      renderConvList();
    }
  }

  // ---- conversations -------------------------------------------------------

  function getConv(chatType, peer) {
    const key = `${chatType}:${peer}`;
    if (!S.convs.has(key)) {
      S.convs.set(key, { key, chatType, peer, msgs: new Map(), unread: 0, lastSeq: 0, loaded: false,
        pinned: false, muted: false, hidden: false, updatedAt: 0 });
      renderConvList();
    }
    return S.convs.get(key);
  }

  function convTitle(conv) {
    if (conv.chatType === 1) return `${S.groupNames.get(conv.peer) || 'group'} #${conv.peer}`;
    const name = S.names.get(conv.peer);
    return name ? `${name} #${conv.peer}` : `user #${conv.peer}`;
  }

  // Insert or refresh a message from a frame or a history item.
  function upsert(conv, f, defaultState) {
    const id = str(f.id);
    const mine = str(f.from_user_id) === S.me.id;
    let m = conv.msgs.get(id);
    if (!m) {
      m = { id, seq: num(f.seq), from: str(f.from_user_id), to: str(f.to_user_id), chatType: conv.chatType,
        msgType: num(f.msg_type), content: str(f.content), out: mine, state: defaultState, error: '',
        convSeq: 0, ts: 0, receipted: 0, order: ++S.order, conv: conv.key };
      conv.msgs.set(id, m);
      if (mine) S.byId.set(id, conv.key);
    }
    m.silent = m.msgType === 6 || m.msgType === 7;
    m.refId = str(f.ref_id) || m.refId || '';
    if (f.recalled) { m.recalled = true; m.content = ''; }
    if (Number(f.edited_at)) { m.editedAt = Number(f.edited_at); m.content = str(f.content); }
    m.convSeq = Number(f.conv_seq) || m.convSeq;
    m.ts = Number(f.timestamp) || m.ts;
    place(conv, m);
    return m;
  }

  // Send the cumulative receipt for the newest message from others: READ when the
  // conversation is on screen, ARRIVED otherwise.
  function acknowledge(conv) {
    const status = S.current === conv.key && document.visibilityState !== 'hidden' ? 3 : 2;
    let newest = null;
    for (const m of conv.msgs.values()) {
      if (!m.out && m.id && (!newest || m.convSeq > newest.convSeq
        || (m.convSeq === newest.convSeq && m.order > newest.order))) newest = m;
    }
    if (!newest || newest.receipted >= status) return;
    const ok = sendFrame({ id: newest.id, status, from_user_id: S.me.id, chat_type: conv.chatType,
      to_user_id: conv.chatType === 1 ? conv.peer : newest.from });
    if (ok) newest.receipted = status;
  }

  function openConv(chatType, peer) {
    peer = str(peer).trim();
    if (!peer) return notice('type a user or group id', 'error');
    const conv = getConv(Number(chatType), peer);
    S.current = conv.key;
    conv.unread = 0;
    conv.hidden = false;
    $('#peer-id').value = peer;
    $('#chat-type').value = String(conv.chatType);
    renderConvList();
    renderChat();
    acknowledge(conv);
    if (!conv.loaded) loadHistory(conv).catch(fail);
    showGroupAdmin(conv);
    $('#message-input').focus();
  }

  async function loadHistory(conv, extra = {}) {
    const data = await api('GET', '/api/messages',
      { chat_type: conv.chatType, peer_id: conv.peer, limit: 50, ...extra });
    conv.loaded = true;
    for (const raw of data.items || []) {
      const f = isGroupEvent(raw) ? readableEvent(raw) : raw;
      const status = num(f.status);
      const mine = str(f.from_user_id) === S.me.id;
      const m = upsert(conv, f, mine ? ['sent', 'sent', 'arrived', 'read'][status] : 'received');
      // For messages to me, `status` is the furthest receipt I already sent.
      if (!mine && status >= 2) m.receipted = Math.max(m.receipted, status);
      if (mine && RANK[m.state] < RANK[['sent', 'sent', 'arrived', 'read'][status]]) {
        m.state = ['sent', 'sent', 'arrived', 'read'][status];
        updateMsg(m);
      }
      conv.lastSeq = Math.max(conv.lastSeq, m.convSeq);
    }
    acknowledge(conv);
  }

  // ---- sending -------------------------------------------------------------

  function transmit(m) {
    m.seq = ++S.seq; // every answer echoes the seq of the frame it answers
    sendFrame({ id: m.id, seq: m.seq, from_user_id: S.me.id, to_user_id: m.to, chat_type: m.chatType,
      msg_type: m.msgType, status: 1, content: m.content, ref_id: m.refId || '' });
  }

  // A RECALL or EDIT of `m`: acked like a message, then applied when it comes back.
  function amend(m, msgType, content = '') {
    const conv = S.convs.get(m.conv);
    if (!conv || !S.online) return notice('not connected', 'error');
    sendFrame({ id: uuid(), seq: ++S.seq, from_user_id: S.me.id, chat_type: conv.chatType,
      to_user_id: conv.peer, msg_type: msgType, status: 1, ref_id: m.id, content });
  }

  function setComposer(mode, m) {
    S.replyTo = mode === 'reply' ? m : null;
    S.editing = mode === 'edit' ? m : null;
    const bar = $('#reply-bar');
    bar.hidden = !mode;
    $('#reply-text').textContent = m ? `${mode === 'edit' ? 'editing' : 'replying to'}: ${m.content.slice(0, 60)}` : '';
    if (mode === 'edit') $('#message-input').value = m.content;
    $('#message-input').focus();
  }

  // At most one TYPING a second while the user types (the server drops extra ones anyway).
  function typing() {
    const conv = S.convs.get(S.current);
    if (!conv || !S.online || Date.now() - S.typingSent < 1000) return;
    S.typingSent = Date.now();
    sendFrame({ from_user_id: S.me.id, to_user_id: conv.peer, chat_type: conv.chatType, msg_type: 8 });
  }

  function sendMessage() {
    const input = $('#message-input');
    const text = input.value;
    if (!text.trim()) return;
    const conv = S.convs.get(S.current);
    if (!conv) return notice('open a conversation first', 'error');
    if (S.editing) {
      amend(S.editing, 7, text);
      input.value = '';
      return setComposer(null);
    }
    const m = upsert(conv, { id: uuid(), from_user_id: S.me.id, to_user_id: conv.peer,
      msg_type: Number($('#msg-type').value), content: text,
      ref_id: S.replyTo ? S.replyTo.id : '' }, 'pending');
    m.to = conv.peer;
    input.value = '';
    setComposer(null);
    if (!S.online) notice('offline: the message will be sent when connected');
    else transmit(m);
  }

  function resend(m) {
    m.state = 'pending';
    m.error = '';
    updateMsg(m);
    if (S.online) transmit(m);
  }

  // ---- rendering -----------------------------------------------------------

  const sortKey = (m) => [m.convSeq || Infinity, m.order];
  function before(a, b) {
    const [x, y] = [sortKey(a), sortKey(b)];
    return x[0] < y[0] || (x[0] === y[0] && x[1] < y[1]);
  }

  // Put a message's element at its place (conv_seq order, unacked last) and refresh it.
  function place(conv, m) {
    if (m.silent) return;
    updateMsg(m);
    if (S.current !== conv.key) return;
    const box = $('#messages');
    const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 40;
    let next = null;
    for (const other of conv.msgs.values()) {
      if (other !== m && other.el && other.el.parentNode === box && before(m, other)
        && (!next || before(other, next))) next = other;
    }
    box.insertBefore(m.el, next ? next.el : null);
    if (atEnd || m.out) box.scrollTop = box.scrollHeight;
  }

  function updateMsg(m) {
    if (!m.el) {
      m.el = el('div', { class: `msg ${m.out ? 'out' : 'in'}`, 'data-id': m.id },
        el('div', { class: 'meta' }), el('div', { class: 'body' }), el('div', { class: 'msg-error' }),
        el('div', { class: 'actions' }));
    }
    const e = m.el;
    e.dataset.state = m.state;
    e.dataset.seq = m.seq;
    e.dataset.convSeq = m.convSeq || '';
    const who = m.out ? 'you' : (S.names.get(m.from) || `#${m.from}`);
    const meta = [who, time(m.ts || undefined)];
    if (m.convSeq) meta.push(`#${m.convSeq}`);
    if (m.editedAt) meta.push('edited');
    e.dataset.recalled = m.recalled ? 'true' : 'false';
    e.querySelector('.meta').replaceChildren(el('span', { text: meta.join(' · ') }),
      m.out ? el('span', { class: 'state', text: m.state }) : '');
    const body = e.querySelector('.body');
    const label = TYPE_LABEL[m.msgType];
    const quoted = m.refId && S.convs.get(m.conv) && S.convs.get(m.conv).msgs.get(m.refId);
    const quote = m.refId ? el('div', { class: 'quote',
      text: `↪ ${quoted ? (quoted.recalled ? 'recalled message' : quoted.content.slice(0, 60)) : `#${m.refId}`}` }) : '';
    if (m.recalled) body.replaceChildren(el('span', { class: 'recalled', text: 'message recalled' }));
    else {
      body.replaceChildren(quote, label ? el('span', { class: 'kind', text: `[${label}] ` }) : '',
        label && /^https?:\/\//.test(m.content)
          ? el('a', { href: m.content, target: '_blank', rel: 'noopener', text: m.content })
          : m.content);
    }
    const acts = [];
    if (!m.recalled && m.convSeq) {
      acts.push(el('button', { type: 'button', class: 'small reply', text: 'reply', onclick: () => setComposer('reply', m) }));
      if (m.out) {
        acts.push(el('button', { type: 'button', class: 'small edit', text: 'edit', onclick: () => setComposer('edit', m) }),
          el('button', { type: 'button', class: 'small recall', text: 'recall', onclick: () => amend(m, 6) }));
      }
    }
    e.querySelector('.actions').replaceChildren(...acts);
    e.querySelector('.msg-error').replaceChildren(m.error ? m.error : '',
      m.out && m.state === 'error' ? el('button', { type: 'button', class: 'small', text: 'resend',
        onclick: () => resend(m) }) : '');
  }

  function renderChat() {
    const box = $('#messages');
    const conv = S.convs.get(S.current);
    $('#conv-title').textContent = conv ? convTitle(conv) : 'No conversation open';
    renderConvActions();
    if (!conv) { box.replaceChildren(); return; }
    const list = [...conv.msgs.values()].filter((m) => !m.silent).sort((a, b) => (before(a, b) ? -1 : 1));
    list.forEach(updateMsg);
    box.replaceChildren(...list.map((m) => m.el));
    box.scrollTop = box.scrollHeight;
  }

  // Pinned first, then the latest activity first, as GET /api/conversations lists them.
  const convOrder = (x, y) => (y.pinned - x.pinned) || (y.updatedAt - x.updatedAt);
  function renderConvList() {
    const shown = [...S.convs.values()].filter((c) => !c.hidden || c.key === S.current).sort(convOrder);
    const items = shown.map((c) => el('li', {},
      el('button', { type: 'button', class: `peer${c.key === S.current ? ' active' : ''}`, 'data-id': c.peer,
        'data-chat-type': c.chatType, 'data-pinned': c.pinned, 'data-muted': c.muted,
        onclick: () => openConv(c.chatType, c.peer) },
      convTitle(c), el('span', { class: 'flags', text: `${c.pinned ? '📌' : ''}${c.muted ? '🔕' : ''}` }),
      c.unread ? el('span', { class: `badge${c.muted ? ' muted' : ''}`, text: c.unread }) : '')));
    $('#convs').replaceChildren(...(items.length ? items : [el('li', { class: 'empty', text: 'none yet' })]));
    // The app icon's total: muted conversations are left out.
    const total = shown.reduce((n, c) => n + (c.muted ? 0 : c.unread), 0);
    $('#total-unread').textContent = total;
    $('#total-unread').hidden = !total;
    renderConvActions();
    const cur = S.convs.get(S.current);
    if (cur) $('#conv-title').textContent = convTitle(cur); // names may have just loaded
  }

  function renderList(sel, items, make) {
    $(sel).replaceChildren(...(items.length ? items.map(make) : [el('li', { class: 'empty', text: 'none' })]));
  }

  // ---- friends, groups, requests ------------------------------------------

  async function loadFriends() {
    const items = (await api('GET', '/api/user/friends', {})).items || [];
    for (const u of items) S.names.set(str(u.id), u.nickname || u.account);
    renderList('#friends', items, (u) => el('li', {}, el('button', { type: 'button', class: 'peer',
      'data-id': str(u.id), onclick: () => openConv(0, str(u.id)) },
    el('span', { class: 'dot', 'data-user': str(u.id), 'data-online': 'false' }),
    `${u.nickname || u.account} `, el('small', { text: `#${u.id}` }))));
    renderConvList();
    if (items.length) {
      const ids = items.slice(0, 200).map((u) => str(u.id)).join(',');
      const data = await api('GET', '/api/presence', { user_ids: ids });
      for (const p of data.items || []) S.presence.set(str(p.id), !!p.online);
      renderPresence();
    }
  }

  async function loadGroups() {
    const items = (await api('GET', '/api/groups', {})).items || [];
    for (const g of items) S.groupNames.set(str(g.id), g.name);
    renderList('#groups', items, (g) => el('li', {}, el('button', { type: 'button', class: 'peer',
      'data-id': str(g.id), onclick: () => openConv(1, str(g.id)) },
    `${g.name} `, el('small', { text: `#${g.id} · ${g.member_count || 0} members` }))));
    renderConvList();
  }

  async function loadRequests() {
    const items = ((await api('GET', '/api/user/friend/requests', {})).items || [])
      .filter((r) => !num(r.status));
    const act = (path, id) => api('POST', path, { id }).then(refreshLists, fail);
    renderList('#requests', items, (r) => el('li', { 'data-id': str(r.id) },
      el('span', { text: `from #${r.from_user_id}${r.msg ? `: ${r.msg}` : ''} ` }),
      el('button', { type: 'button', class: 'small accept', text: 'accept',
        onclick: () => act('/api/user/friend/accept', str(r.id)) }),
      el('button', { type: 'button', class: 'small refuse', text: 'refuse',
        onclick: () => act('/api/user/friend/refuse', str(r.id)) })));
  }

  // The server's conversation list (http-api.md, Conversations): unread counts, settings and
  // names, exact whatever this page saw; the conversation on screen is being read.
  async function loadConversations() {
    let cursor = '';
    for (let pages = 0; pages < 5; pages += 1) {
      const data = await api('GET', '/api/conversations', { limit: 200, cursor });
      for (const it of data.items || []) {
        const chatType = num(it.chat_type);
        const peer = str(it.peer_id);
        if (it.name) (chatType === 1 ? S.groupNames : S.names).set(peer, it.name);
        const conv = getConv(chatType, peer);
        Object.assign(conv, { pinned: !!it.pinned, muted: !!it.muted, hidden: false,
          updatedAt: Number(it.updated_at) || 0, lastSeq: Math.max(conv.lastSeq, Number(it.last_seq) || 0),
          unread: conv.key === S.current ? 0 : Number(it.unread) || 0 });
        if (conv.key === S.current) acknowledge(conv);
      }
      cursor = str(data.cursor);
      if (!cursor) break;
    }
    renderConvList();
  }

  // Pin, mute, hide: the open conversation's settings on the server.
  function renderConvActions() {
    const conv = S.convs.get(S.current);
    const box = $('#conv-actions');
    if (!box) return;
    box.hidden = !conv;
    if (!conv) return;
    $('#conv-pin').textContent = conv.pinned ? 'unpin' : 'pin';
    $('#conv-mute').textContent = conv.muted ? 'unmute' : 'mute';
  }

  async function convSetting(args) {
    const conv = S.convs.get(S.current);
    if (!conv) return;
    const data = await api('POST', '/api/conversation/settings', { chat_type: conv.chatType, peer_id: conv.peer, ...args });
    conv.pinned = !!data.pinned;
    conv.muted = !!data.muted;
    renderConvList();
  }

  async function hideConv() {
    const conv = S.convs.get(S.current);
    if (!conv) return;
    await api('POST', '/api/conversation/hide', { chat_type: conv.chatType, peer_id: conv.peer });
    conv.hidden = true;
    S.current = null;
    renderConvList();
    renderChat();
  }

  function refreshLists() {
    if (!S.me) return;
    loadConversations().catch(fail);
    loadFriends().catch(fail);
    loadGroups().catch(fail);
    loadRequests().catch(fail);
  }

  // ---- group administration ------------------------------------------------

  // A group event: a NOTIFY message of a group from its acting member (protocol.md, "Group
  // events"), not a notice from `notify`.
  function isGroupEvent(f) {
    return num(f.msg_type) === 5 && num(f.chat_type) === 1 && str(f.from_user_id) !== 'notify';
  }

  const who = (id) => (str(id) === (S.me && S.me.id) ? 'you' : (S.names.get(str(id)) || `#${id}`));

  // The event as a line of the conversation.
  function readableEvent(f) {
    let e = {};
    try { e = JSON.parse(f.content); } catch { /* shown as it came */ }
    const targets = (e.targets || []).map(who).join(', ');
    const changes = ['name', 'notice', 'join_policy', 'invite_policy', 'history_visible']
      .filter((k) => k in e).map((k) => `${k}: ${e[k]}`).join(', ');
    const text = {
      member_joined: `${targets} joined`,
      member_left: `${targets} left`,
      member_kicked: `${targets} removed by ${who(e.actor)}`,
      member_muted: `${targets} muted for ${e.seconds}s by ${who(e.actor)}`,
      member_unmuted: `${targets} may speak again`,
      group_muted: `only the owner and admins may speak now (${who(e.actor)})`,
      group_unmuted: `everyone may speak again (${who(e.actor)})`,
      role_changed: `${targets} is now ${e.role}`,
      owner_changed: `${targets} owns the group now`,
      group_updated: `${who(e.actor)} changed ${changes}`,
      group_dismissed: `${who(e.actor)} dismissed the group`,
    }[e.event];
    return { ...f, content: `· ${text || f.content}` };
  }

  function onGroupEvent(f) {
    onMessage(readableEvent(f));
    let e = {};
    try { e = JSON.parse(f.content); } catch { return; }
    const me = S.me.id;
    if (e.event === 'group_dismissed' || ((e.targets || []).includes(me)
      && ['member_kicked', 'member_left', 'member_joined'].includes(e.event))) loadGroups().catch(fail);
    const conv = S.convs.get(S.current);
    if (conv && conv.chatType === 1 && conv.peer === str(f.to_user_id)) loadGroupAdmin(conv.peer).catch(fail);
  }

  function showGroupAdmin(conv) {
    $('#group-admin').hidden = conv.chatType !== 1;
    if (conv.chatType === 1) loadGroupAdmin(conv.peer).catch(fail);
  }

  const RANK_OF = { member: 0, admin: 1, owner: 2 };

  // The members with their roles, and the actions the caller's role allows on each.
  async function loadGroupAdmin(group) {
    const info = await api('GET', '/api/group/info', { group_id: group }).catch(() => null);
    if (!info) { $('#group-admin').hidden = true; return; }
    const mine = info.role;
    $('#group-admin').dataset.group = group;
    $('#group-admin-name').textContent = `${info.name} #${group}`;
    $('#group-admin-info').textContent = `you are ${mine} · join: ${info.join_policy}`
      + ` · history: ${info.history_visible}${info.mute_all ? ' · muted for members' : ''}`;
    $('#group-join-policy').value = info.join_policy;
    $('#group-mute-all').textContent = info.mute_all ? 'unmute all' : 'mute all';
    $('#group-mute-all').dataset.muted = info.mute_all ? '1' : '0';
    const act = (path, args) => api('POST', path, { group_id: group, ...args })
      .then(() => loadGroupAdmin(group), fail);
    const members = (await api('GET', '/api/group/members', { group_id: group, limit: 200 })).items || [];
    renderList('#group-member-list', members, (m) => {
      const id = str(m.id);
      S.names.set(id, m.nickname || m.account);
      const muted = Number(m.muted_until) > Date.now();
      const li = el('li', { 'data-id': id, 'data-role': m.role },
        el('span', { text: `${m.nickname || m.account} #${id} · ${m.role}${muted ? ' · muted' : ''}` }));
      if (RANK_OF[mine] > RANK_OF[m.role] && RANK_OF[mine] >= 1) {
        li.append(
          el('button', { type: 'button', class: 'small mute', text: muted ? 'unmute' : 'mute 10m',
            onclick: () => act('/api/group/mute', { user_id: id, seconds: muted ? 0 : 600 }) }),
          el('button', { type: 'button', class: 'small kick', text: 'kick',
            onclick: () => act('/api/group/kick', { user_ids: [id] }) }));
      }
      if (mine === 'owner' && m.role !== 'owner') {
        const role = m.role === 'admin' ? 'member' : 'admin';
        li.append(el('button', { type: 'button', class: 'small role', text: `make ${role}`,
          onclick: () => act('/api/group/set_role', { user_id: id, role }) }));
      }
      return li;
    });
    const requests = RANK_OF[mine] >= 1
      ? ((await api('GET', '/api/group/requests', { group_id: group })).items || []) : [];
    renderList('#group-join-requests', requests, (r) => el('li', { 'data-id': str(r.id) },
      el('span', { text: `#${r.user_id} asks to join ` }),
      el('button', { type: 'button', class: 'small accept', text: 'approve',
        onclick: () => api('POST', '/api/group/approve', { id: str(r.id) }).then(() => loadGroupAdmin(group), fail) }),
      el('button', { type: 'button', class: 'small refuse', text: 'refuse',
        onclick: () => api('POST', '/api/group/refuse', { id: str(r.id) }).then(() => loadGroupAdmin(group), fail) })));
  }

  // ---- wiring --------------------------------------------------------------

  const onSubmit = (sel, fn) => $(sel).addEventListener('submit', (e) => {
    e.preventDefault();
    Promise.resolve().then(fn).catch(fail);
  });
  const onClick = (sel, fn) => $(sel).addEventListener('click', () => Promise.resolve().then(fn).catch(fail));

  onSubmit('#auth', () => authenticate(false));
  onClick('#register', () => authenticate(true));
  onClick('#logout', async () => {
    const token = S.me && S.me.token;
    signedOut();
    if (token) await api('POST', '/api/user/logout', {}, token);
  });
  onClick('#connect', () => (S.ws ? disconnect() : connect()));
  onClick('#copy-id', async () => {
    const id = $('#me-id').textContent;
    if (navigator.clipboard && window.isSecureContext) await navigator.clipboard.writeText(id);
    else getSelection().selectAllChildren($('#me-id'));
    notice(`id ${id} copied`);
  });
  onSubmit('#peer-form', () => openConv($('#chat-type').value, $('#peer-id').value));
  onSubmit('#composer', sendMessage);
  $('#message-input').addEventListener('input', typing);
  onClick('#reply-cancel', () => setComposer(null));
  onClick('#refresh-lists', refreshLists);
  onClick('#conv-pin', () => convSetting({ pinned: !S.convs.get(S.current).pinned }));
  onClick('#conv-mute', () => convSetting({ muted: !S.convs.get(S.current).muted }));
  onClick('#conv-hide', hideConv);
  onSubmit('#friend-form', async () => {
    const to = $('#friend-id').value.trim();
    if (!to) return;
    const data = await api('POST', '/api/user/friend/add', { to_user_id: to });
    $('#friend-id').value = '';
    notice(`friend request ${data.id || ''} sent to #${to}`);
  });
  onSubmit('#group-form', async () => {
    const name = $('#group-name').value.trim();
    if (!name) return notice('the group needs a name', 'error');
    const members = $('#group-members').value.split(/[\s,]+/).filter(Boolean);
    const data = await api('POST', '/api/group/create', { name, member_ids: members });
    $('#group-name').value = '';
    $('#group-members').value = '';
    S.groupNames.set(str(data.id), name);
    await loadGroups();
    openConv(1, str(data.id));
  });
  onSubmit('#raw-form', () => {
    const text = $('#raw-input').value.trim();
    if (!text) return;
    if (!S.ws || S.ws.readyState !== WebSocket.OPEN) return notice('not connected', 'error');
    const frame = S.me ? text.split('$TOKEN').join(S.me.token) : text;
    S.ws.send(frame); // sent verbatim, so malformed frames can be tried too
    let shown = frame;
    try { shown = JSON.parse(frame); } catch { /* log the text as is */ }
    log('out', shown);
  });
  onClick('#raw-template', () => {
    const conv = S.convs.get(S.current);
    $('#raw-input').value = JSON.stringify({ id: uuid(), seq: S.seq + 1000, from_user_id: S.me ? S.me.id : '',
      to_user_id: conv ? conv.peer : '', chat_type: conv ? conv.chatType : 0, msg_type: 0, status: 1,
      content: 'hello' });
  });
  onClick('#group-save-policy', () => {
    const group = $('#group-admin').dataset.group;
    return api('POST', '/api/group/update', { group_id: group, join_policy: $('#group-join-policy').value })
      .then(() => loadGroupAdmin(group));
  });
  onClick('#group-mute-all', () => {
    const group = $('#group-admin').dataset.group;
    return api('POST', '/api/group/mute_all', { group_id: group, muted: $('#group-mute-all').dataset.muted !== '1' })
      .then(() => loadGroupAdmin(group));
  });
  onClick('#raw-clear', () => $('#raw-log').replaceChildren());
  document.addEventListener('visibilitychange', () => {
    const conv = S.convs.get(S.current);
    if (conv && document.visibilityState === 'visible') acknowledge(conv);
  });

  renderConvList();
  const saved = sessionStorage.getItem('easyim.me');
  if (saved) {
    try { signedIn(JSON.parse(saved)); } catch { sessionStorage.removeItem('easyim.me'); }
  }
})();
