// The local chat console. Every text from the bot or the user is put into the page with
// textContent, never as markup: a guest may be named "<img src=x onerror=...>".
'use strict';
(() => {
  const T = {
    zh: {
      who: '身份', send: '发送', audit: '审计日志', placeholder: '输入命令，例如 vm list、帮助、关机 104',
      empty: '选择身份后输入命令。\n试试：vm list · 状态 · 关机 104 · 帮助',
      roles: { admin: '管理员', operator: '操作员', viewer: '只读' }, visitor: '未登记用户',
      sev: { ok: '成功', warning: '警告', error: '错误' }, confirm: '待确认',
      me: '我', bot: '机器人', busy: '机器人忙，未能处理，请重试', pending: '处理中…', updated: '卡片已更新',
      conn: '与机器人的连接中断，正在重试…', noAudit: '暂无审计记录',
      decision: { allowed: '允许', refused: '拒绝', error: '出错', cancelled: '取消' },
      chips: ['帮助', 'vm list', '状态', 'vm status 102', '关机 104', '启动 105', 'audit'],
      clickFailed: '点击未被处理：',
      group: '群聊', groupEmpty: '群聊：定时报告和告警会推送到这里。\n试试下方的演示按钮。', actionFailed: '操作失败：',
    },
    en: {
      who: 'Acting as', send: 'Send', audit: 'Audit log', placeholder: 'Type a command: vm list, help, vm shutdown 104',
      empty: 'Pick who you are, then type a command.\nTry: vm list · status · vm shutdown 104 · help',
      roles: { admin: 'admin', operator: 'operator', viewer: 'viewer' }, visitor: 'unknown user',
      sev: { ok: 'Done', warning: 'Warning', error: 'Error' }, confirm: 'Please confirm',
      me: 'me', bot: 'bot', busy: 'The bot is busy and did not take this; try again', pending: 'Working…', updated: 'card updated',
      conn: 'Lost the connection to the bot, retrying…', noAudit: 'No audit entries yet',
      decision: { allowed: 'allowed', refused: 'refused', error: 'error', cancelled: 'cancelled' },
      chips: ['help', 'vm list', 'status', 'vm status 102', 'vm shutdown 104', 'vm start 105', 'audit'],
      clickFailed: 'Click not taken: ',
      group: 'group chat', groupEmpty: 'Group chat: scheduled reports and alerts are pushed here.\nTry the demo buttons below.', actionFailed: 'Action failed: ',
    },
  };
  let L = T.zh;
  const S = { user: '', ver: 0, gen: 0, abort: null, nodes: new Map() };
  const $ = (id) => document.getElementById(id);

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null && text !== '') e.textContent = String(text);
    return e;
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const hhmmss = (t) => { const d = new Date(t); return isNaN(d) ? '' : d.toLocaleTimeString(L === T.zh ? 'zh-CN' : 'en-GB', { hour12: false }); };

  async function post(path, body) {
    const r = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    let data = {};
    try { data = await r.json(); } catch (_) { /* empty */ }
    return { ok: r.ok, status: r.status, data };
  }

  // --- rendering -------------------------------------------------------------------
  function sevClass(c) { return c.severity ? 'sev-' + c.severity : ''; }

  // A link from the bot, only when it is http(s); it opens in a new tab.
  function linkEl(link, cls) {
    if (!link || !/^https?:\/\//i.test(link.url || '')) return null;
    const a = el('a', cls, link.text || link.url);
    a.href = link.url;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    return a;
  }

  // The markdown WeCom renders in markdown messages, and only there: **bold**, `code`,
  // and "> " quotes. Everything stays text (textContent); nothing becomes markup.
  function mdLine(line) {
    const quote = line.startsWith('> ');
    const d = el('div', quote ? 'quote' : 'line');
    const text = quote ? line.slice(2) : line;
    const re = /\*\*([^*]+)\*\*|`([^`]+)`/g;
    let last = 0;
    let m;
    while ((m = re.exec(text)) !== null) {
      if (m.index > last) d.append(document.createTextNode(text.slice(last, m.index)));
      d.append(m[1] !== undefined ? el('strong', '', m[1]) : el('code', '', m[2]));
      last = re.lastIndex;
    }
    if (last < text.length) d.append(document.createTextNode(text.slice(last)));
    return d;
  }

  function renderCard(entry) {
    const c = entry.card;
    // The source line as WeCom's card shows it: the severity, else "please confirm".
    const label = L.sev[c.severity] || (c.kind === 'confirm' ? L.confirm : '');
    const ask = c.kind === 'confirm' && !L.sev[c.severity];
    const card = el('div', 'card ' + sevClass(c) + (c.kind === 'confirm' ? ' confirm' : '') + (ask ? ' ask' : ''));
    card.dataset.entry = String(entry.id);
    if (label) {
      const src = el('div', 'source');
      src.append(el('span', 'dot'), el('span', '', label));
      card.append(src);
    }
    let title = c.title || '';
    let lines = c.lines || [];
    if (!title && lines.length) { title = lines[0]; lines = lines.slice(1); }
    card.append(el('div', 'c-title', title));
    if (c.fields && c.fields.length) {
      const f = el('div', 'fields');
      for (const x of c.fields) {
        const row = el('div', 'row');
        row.append(el('span', 'k', x.label), el('span', 'v', x.value));
        f.append(row);
      }
      card.append(f);
    }
    if (lines.length) card.append(el('div', 'sub', lines.join('\n')));
    if (c.footer) card.append(el('div', 'c-foot', c.footer));
    const link = linkEl(c.link, 'c-link');
    if (link) card.append(link);
    if (c.done) {
      const b = el('div', 'buttons');
      const d = el('button', 'btn done', c.done);
      d.disabled = true;
      b.append(d);
      card.append(b);
    } else if (c.buttons && c.buttons.length) {
      const b = el('div', 'buttons');
      for (const x of c.buttons) {
        const btn = el('button', 'btn style-' + (Number(x.style) || 1), c.pending ? L.pending : x.text);
        btn.type = 'button';
        btn.dataset.key = x.key;
        btn.disabled = !!c.pending;
        btn.addEventListener('click', () => click(entry.id, x.key, card));
        b.append(btn);
      }
      card.append(b);
    }
    if (c.updated) card.append(el('div', 'updated', L.updated));
    return card;
  }

  function renderBubble(entry) {
    const c = entry.card;
    const b = el('div', 'bubble ' + c.form);
    if (c.title) b.append(el('div', 'b-title ' + (c.form === 'list' ? sevClass(c) : ''), c.title));
    for (const f of c.fields || []) {
      b.append(el('div', c.form === 'list' ? 'quote' : 'line', f.label ? f.label + (L === T.zh ? '：' : ': ') + f.value : f.value));
    }
    for (const line of c.lines || []) b.append(c.form === 'list' ? mdLine(line) : el('div', 'line', line));
    if (c.footer) b.append(el('div', 'foot', c.footer));
    const link = linkEl(c.link, 'b-link');
    if (link) b.append(link);
    return b;
  }

  function renderEntry(entry) {
    const mine = entry.from === 'user';
    const row = el('div', 'msg ' + (mine ? 'me' : 'bot'));
    row.dataset.id = String(entry.id);
    row.append(el('div', 'avatar', mine ? (S.user[0] || '?').toUpperCase() : '🤖'));
    const stack = el('div', 'stack');
    stack.append(el('div', 'meta', (mine ? S.user : L.bot) + ' · ' + hhmmss(entry.time)));
    if (mine) {
      const b = el('div', 'bubble' + (entry.error ? ' failed' : ''), entry.text);
      stack.append(b);
      if (entry.error) stack.append(el('div', 'err', L.busy));
    } else if (entry.card && entry.card.form === 'image') {
      const img = el('img', 'picture');
      img.src = entry.card.image;
      img.alt = '';
      stack.append(img);
    } else if (entry.card && entry.card.form === 'card') {
      stack.append(renderCard(entry));
    } else if (entry.card) {
      stack.append(renderBubble(entry));
    }
    row.append(stack);
    return row;
  }

  function upsert(entry) {
    const list = $('messages');
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    const node = renderEntry(entry);
    const old = S.nodes.get(entry.id);
    if (old) old.replaceWith(node);
    else {
      const empty = list.querySelector('.empty');
      if (empty) empty.remove();
      list.append(node);
    }
    S.nodes.set(entry.id, node);
    if (!old || nearBottom) list.scrollTop = list.scrollHeight;
  }

  const isGroup = (id) => id.startsWith('#');

  function resetMessages() {
    const list = $('messages');
    list.replaceChildren(el('div', 'empty', isGroup(S.user) ? L.groupEmpty : L.empty));
    S.nodes.clear();
    S.ver = 0;
  }

  // --- talking to the bot ----------------------------------------------------------
  async function poll(gen) {
    let failures = 0;
    while (gen === S.gen) {
      const ctl = new AbortController();
      S.abort = ctl;
      try {
        const q = new URLSearchParams({ user: S.user, after: String(S.ver), wait: '5' });
        const r = await fetch('/api/messages?' + q, { signal: ctl.signal });
        if (!r.ok) throw new Error('status ' + r.status);
        const data = await r.json();
        if (gen !== S.gen) return;
        failures = 0;
        $('conn').hidden = true;
        for (const e of data.entries) upsert(e);
        if (data.entries.length) loadAudit();
        S.ver = Math.max(S.ver, data.ver);
      } catch (err) {
        if (gen !== S.gen) return;
        failures++;
        if (failures > 1) { $('conn').textContent = L.conn; $('conn').hidden = false; }
        await sleep(Math.min(500 * failures, 3000));
      }
    }
  }

  function switchUser(id) {
    S.user = id;
    // A group chat's pane only receives pushes: nobody types there.
    $('input').disabled = $('send').disabled = isGroup(id);
    for (const b of $('chips').querySelectorAll('.chip.cmd')) b.hidden = isGroup(id);
    try { localStorage.setItem('console.user', id); } catch (_) { /* private mode */ }
    S.gen++;
    if (S.abort) S.abort.abort();
    resetMessages();
    poll(S.gen);
  }

  async function sendText(text) {
    text = text.trim();
    if (!text || !S.user) return;
    await post('/api/send', { user: S.user, text });
  }

  async function click(entryID, key, card) {
    for (const b of card.querySelectorAll('button')) { b.disabled = true; }
    const r = await post('/api/click', { user: S.user, key, card: entryID });
    if (!r.ok) {
      for (const b of card.querySelectorAll('button')) { b.disabled = false; }
      card.append(el('div', 'err', L.clickFailed + (r.data.error || r.status)));
    }
  }

  // --- audit log -------------------------------------------------------------------
  let auditBusy = false;
  async function loadAudit() {
    if (auditBusy) return;
    auditBusy = true;
    try {
      const r = await fetch('/api/audit?n=50');
      if (!r.ok) return;
      const rows = await r.json();
      const list = $('audit');
      const items = rows.map((a) => {
        const li = el('li');
        const top = el('div', 'a-top');
        top.append(el('span', 'badge ' + a.decision, L.decision[a.decision] || a.decision), el('span', '', hhmmss(a.time)), el('span', '', a.user));
        li.append(top, el('div', 'a-cmd', a.command));
        const why = [a.result, a.reason].filter(Boolean).join(' · ');
        if (why) li.append(el('div', 'a-why', why));
        return li;
      });
      if (!items.length) items.push(el('li', 'audit-empty', L.noAudit));
      list.replaceChildren(...items);
    } catch (_) {
      /* shown on the next refresh */
    } finally {
      auditBusy = false;
    }
  }

  // --- start -----------------------------------------------------------------------
  async function start() {
    const r = await fetch('/api/config');
    const cfg = await r.json();
    L = cfg.language === 'en' ? T.en : T.zh;
    document.documentElement.lang = cfg.language === 'en' ? 'en' : 'zh';
    $('who-label').textContent = L.who;
    $('send').textContent = L.send;
    $('audit-title').textContent = L.audit;
    $('input').placeholder = L.placeholder;
    if (cfg.banner) { $('banner').textContent = cfg.banner; $('banner').hidden = false; }

    const sel = $('user');
    const ids = [];
    for (const u of cfg.users) {
      const o = el('option', '', u.id + '（' + (L.roles[u.role] || u.role) + '）');
      if (L === T.en) o.textContent = u.id + ' (' + (L.roles[u.role] || u.role) + ')';
      o.value = u.id;
      sel.append(o);
      ids.push(u.id);
    }
    for (const g of cfg.groups || []) {
      const o = el('option', '', (L === T.en ? L.group + ': ' : L.group + '：') + g);
      o.value = '#' + g;
      sel.append(o);
      ids.push('#' + g);
    }
    if (cfg.visitor) {
      const o = el('option', '', cfg.visitor + (L === T.en ? ' (' + L.visitor + ')' : '（' + L.visitor + '）'));
      o.value = cfg.visitor;
      sel.append(o);
      ids.push(cfg.visitor);
    }
    let saved = '';
    try { saved = localStorage.getItem('console.user') || ''; } catch (_) { /* private mode */ }
    sel.value = ids.includes(saved) ? saved : (ids[0] || '');
    sel.addEventListener('change', () => switchUser(sel.value));

    const chips = $('chips');
    for (const c of L.chips) {
      const b = el('button', 'chip cmd', c);
      b.type = 'button';
      b.addEventListener('click', () => sendText(c));
      chips.append(b);
    }
    // The demo's buttons: a report now, a node losing power. What they cause arrives in
    // the group chat's pane.
    for (const a of cfg.actions || []) {
      const b = el('button', 'chip act', a.label);
      b.type = 'button';
      b.dataset.action = a.id;
      b.addEventListener('click', async () => {
        b.disabled = true;
        const r = await post('/api/action', { id: a.id });
        b.disabled = false;
        if (!r.ok) $('messages').append(el('div', 'err', L.actionFailed + (r.data.error || r.status)));
      });
      chips.append(b);
    }
    $('composer').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const input = $('input');
      const text = input.value;
      input.value = '';
      sendText(text);
      input.focus();
    });
    $('audit-refresh').addEventListener('click', loadAudit);
    switchUser(sel.value);
    loadAudit();
    setInterval(loadAudit, 5000);
    $('input').focus();
  }

  start();
})();
