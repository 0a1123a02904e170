// The mcpq console page: plain DOM, no framework. Data comes from the console's own
// /api endpoints; live updates arrive as server-sent events. Every value from a call is
// put on the page as text (never as HTML).
'use strict';

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'timeout']);
const STATUSES = ['queued', 'dispatched', 'running', 'completed', 'failed', 'cancelled', 'timeout'];
const view = document.getElementById('view');
let me = { readOnly: true, csrf: '' };
/** What the current view opened (event sources, timers); closed when the view changes. */
let cleanup = [];

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) el.append(c instanceof Node ? c : String(c));
  return el;
}

async function api(path, options = {}) {
  const headers = { accept: 'application/json', ...(options.method === 'POST' ? { 'x-mcpq-csrf': me.csrf || '' } : {}) };
  const res = await fetch(path, { credentials: 'same-origin', ...options, headers });
  const body = await res.json().catch(() => ({}));
  if (res.status === 401) location.reload();
  if (!res.ok) throw new Error(body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${res.status}`);
  return body;
}

function age(iso) {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

function statusBadge(status) {
  return h('span', { class: `status ${status}`, 'data-status': status }, status);
}

function progressBar(call) {
  const p = call.progress || {};
  const done = TERMINAL.has(call.status);
  let pct = 0;
  let label = '';
  if (p.total) {
    pct = Math.min(100, Math.round((100 * (p.progress || 0)) / p.total));
    label = `${p.progress ?? 0}/${p.total}`;
  } else if (p.progress !== undefined) {
    label = String(p.progress);
  }
  if (done && call.status === 'completed') pct = 100;
  const bar = h('div', {
    class: `bar${done ? (call.status === 'completed' ? ' done' : ' ended') : ''}`,
    'data-progress': p.progress ?? '',
    'data-total': p.total ?? '',
    title: p.message || '',
  });
  const fill = h('span');
  fill.style.width = `${pct}%`;
  bar.append(fill, h('em', {}, label));
  return bar;
}

function errorLink(code) {
  return h('a', { href: `/docs/errors#${encodeURIComponent(code)}`, target: '_blank', rel: 'noopener', 'data-error-code': code }, code);
}

// ---- calls list --------------------------------------------------------------------

function showCalls() {
  const calls = new Map();
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const status = h(
    'select',
    { name: 'status', 'aria-label': 'status' },
    h('option', { value: '' }, 'any status'),
    STATUSES.map((s) => h('option', { value: s }, s)),
  );
  const server = h('select', { name: 'server', 'aria-label': 'server' }, h('option', { value: '' }, 'any server'));
  const search = h('input', { type: 'search', name: 'q', placeholder: 'search call id', 'aria-label': 'search call id', size: 30 });
  status.value = params.get('status') || '';
  search.value = params.get('q') || '';
  const count = h('span', { class: 'count' });
  const body = h('tbody');
  const table = h(
    'table',
    { id: 'calls' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['call id', 'status', 'server', 'tool', 'mode', 'protocol', 'age', 'progress', 'attempts'].map((t) => h('th', {}, t)),
      ),
    ),
    body,
  );
  const servers = new Set();
  let queued = false;
  const render = () => {
    queued = false;
    for (const s of [...calls.values()].map((c) => c.server)) {
      if (!servers.has(s)) {
        servers.add(s);
        server.append(h('option', { value: s }, s));
      }
    }
    if (params.get('server') && !server.value) server.value = params.get('server');
    const q = search.value.trim();
    const rows = [...calls.values()]
      .filter(
        (c) => (!status.value || c.status === status.value) && (!server.value || c.server === server.value) && (!q || c.callId.includes(q)),
      )
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    body.replaceChildren(
      ...rows.map((c) =>
        h(
          'tr',
          { 'data-call-id': c.callId },
          h('td', { class: 'mono' }, h('a', { href: `#/call/${encodeURIComponent(c.callId)}` }, c.callId)),
          h('td', {}, statusBadge(c.status), c.error ? h('span', { class: 'muted code' }, ` ${c.error.code}`) : ''),
          h('td', {}, c.server),
          h('td', {}, c.tool),
          h('td', {}, c.mode || ''),
          h('td', { class: 'muted' }, c.protocol || ''),
          h('td', { title: c.createdAt }, age(c.createdAt)),
          h('td', {}, progressBar(c)),
          h('td', {}, String(c.attempts)),
        ),
      ),
    );
    if (rows.length === 0)
      body.append(h('tr', {}, h('td', { colspan: 9, class: 'muted' }, calls.size ? 'no call matches the filters' : 'no calls yet')));
    count.textContent = `${rows.length} of ${calls.size} calls loaded`;
    more.hidden = !older;
  };
  // Older calls than the live list holds: pages of /api/calls from the cursor the snapshot gave, each
  // reading a bounded number of records (the filters above apply to what is loaded).
  let older;
  const more = h('button', { id: 'older-calls', hidden: true, onclick: () => loadOlder() }, 'older calls');
  const moreMessage = h('span', { class: 'toast', id: 'older-message' });
  const loadOlder = async () => {
    more.disabled = true;
    try {
      const page = await api(`/api/calls?cursor=${encodeURIComponent(older)}`);
      let added = 0;
      for (const c of page.calls) {
        // a call already held came from the live list, which is newer
        if (!calls.has(c.callId)) (calls.set(c.callId, c), added++);
      }
      older = page.nextCursor;
      moreMessage.textContent = `${added} older call(s) loaded (${page.scanned} records read)${older ? '' : '; no older calls'}`;
      render();
    } catch (err) {
      moreMessage.textContent = String(err.message || err);
    } finally {
      more.disabled = false;
    }
  };
  const later = () => {
    if (!queued) {
      queued = true;
      requestAnimationFrame(render);
    }
  };
  for (const el of [status, server, search]) el.addEventListener('input', render);
  view.replaceChildren(
    h('h1', {}, 'Calls'),
    h('div', { class: 'filters' }, status, server, search, count),
    table,
    h('p', { class: 'row-actions' }, more, moreMessage),
  );
  const es = new EventSource('/api/calls/stream');
  es.addEventListener('snapshot', (e) => {
    const snapshot = JSON.parse(e.data);
    calls.clear();
    for (const c of snapshot.calls) calls.set(c.callId, c);
    older = snapshot.nextCursor;
    live(true);
    render();
  });
  es.addEventListener('call', (e) => {
    const c = JSON.parse(e.data);
    calls.set(c.callId, c);
    later();
  });
  es.addEventListener('removed', (e) => {
    calls.delete(JSON.parse(e.data).callId);
    later();
  });
  es.onerror = () => live(false);
  const tick = setInterval(later, 5000); // ages move on
  cleanup.push(
    () => es.close(),
    () => clearInterval(tick),
  );
}

// ---- one call ----------------------------------------------------------------------

async function showCall(callId) {
  const info = h('div');
  const timeline = h('ol', { class: 'timeline', id: 'timeline' });
  const outcome = h('div', { id: 'outcome' });
  const args = h('div', { id: 'arguments' });
  const message = h('span', { class: 'toast', id: 'action-message' });
  const cancel = h('button', { class: 'danger', id: 'cancel', disabled: true, onclick: () => doCancel() }, 'Cancel');
  view.replaceChildren(
    h('p', {}, h('a', { href: '#/' }, '← calls')),
    h('h1', {}, 'Call ', h('span', { class: 'mono' }, callId)),
    h('div', { class: 'row-actions' }, cancel, message),
    info,
    h('h2', {}, 'Timeline'),
    timeline,
    h('h2', {}, 'Result'),
    outcome,
    h('h2', {}, 'Arguments'),
    args,
  );
  let current;

  const renderDetail = (d) => {
    current = d.call;
    const c = d.call;
    cancel.disabled = me.readOnly || TERMINAL.has(c.status);
    cancel.title = me.readOnly ? 'this token is read-only' : TERMINAL.has(c.status) ? 'the call has ended' : 'ask mcpq to cancel the call';
    const rows = [
      ['status', statusBadge(c.status)],
      ['server / tool', `${c.server} / ${c.tool}`],
      ['mode', c.mode || '—'],
      ['protocol', c.protocol || '—'],
      ['progress', progressBar(c)],
      ['progress message', c.progress && c.progress.message ? c.progress.message : '—'],
      ['attempts', String(c.attempts)],
      ['idempotent', c.idempotent ? 'yes' : 'no'],
      ['owner (joiner)', c.owner || '—'],
      ['created', c.createdAt],
      ['updated', c.updatedAt],
      ['finished', c.finishedAt || '—'],
      ['deadline', c.deadline || '—'],
    ];
    if (c.cancel) rows.push(['cancel requested', `${c.cancel.at}${c.cancel.reason ? ` (${c.cancel.reason})` : ''}`]);
    info.replaceChildren(
      h(
        'dl',
        { class: 'grid', id: 'call-info', 'data-status': c.status },
        rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
      ),
    );
    const r = d.result;
    if (!r) outcome.replaceChildren(h('p', { class: 'muted' }, 'no result yet'));
    else {
      const parts = [h('p', {}, statusBadge(r.status), ` after ${r.attempts} attempt(s), finished ${r.finishedAt}`)];
      if (r.error) parts.push(h('p', { class: 'error', id: 'error' }, errorLink(r.error.code), ': ', r.error.message));
      if (r.result) parts.push(h('pre', { id: 'result' }, JSON.stringify(r.result, null, 2)));
      outcome.replaceChildren(...parts);
    }
    const a = d.arguments;
    args.replaceChildren(
      h('p', { class: 'note' }, a.available ? `From ${a.source}. Values of secret-named keys are redacted.` : `Not shown: ${a.source}.`),
      a.available ? h('pre', {}, JSON.stringify(a.arguments, null, 2)) : '',
    );
  };
  const refresh = async () => {
    try {
      renderDetail(await api(`/api/calls/${encodeURIComponent(callId)}`));
    } catch (err) {
      info.replaceChildren(h('p', { class: 'error' }, String(err.message)));
    }
  };
  const doCancel = async () => {
    cancel.disabled = true;
    try {
      const reply = await api(`/api/calls/${encodeURIComponent(callId)}/cancel`, { method: 'POST' });
      message.textContent = reply.accepted ? 'cancel recorded' : `not cancelled: ${reply.detail || reply.status}`;
    } catch (err) {
      message.textContent = err.message;
    }
    await refresh();
  };

  await refresh();
  const es = new EventSource(`/api/calls/${encodeURIComponent(callId)}/events`);
  es.addEventListener('call-event', (e) => {
    const ev = JSON.parse(e.data);
    let what = '';
    if (ev.type === 'status') what = `${ev.status}${ev.mode ? ` (${ev.mode})` : ''}${ev.detail ? ` — ${ev.detail}` : ''}`;
    if (ev.type === 'progress')
      what = `${ev.progress}${ev.total !== undefined ? `/${ev.total}` : ''}${ev.message ? ` — ${ev.message}` : ''}`;
    if (ev.type === 'result') what = `${ev.status}${ev.error ? ` — ${ev.error.code}: ${ev.error.message}` : ''}`;
    const at = ev.type === 'result' ? ev.finishedAt : ev.at;
    timeline.append(
      h(
        'li',
        { 'data-kind': ev.type },
        h('span', { class: 'mono' }, at),
        h('span', { class: `kind kind-${ev.type}` }, ev.type),
        h('span', {}, what),
      ),
    );
    if (ev.type === 'progress' && current) {
      current.progress = { seq: ev.seq, progress: ev.progress, total: ev.total, message: ev.message };
      const bar = info.querySelector('.bar');
      if (bar) bar.replaceWith(progressBar(current));
    }
    if (ev.type === 'status' || ev.type === 'result') void refresh();
  });
  es.onopen = () => live(true);
  es.onerror = () => live(false);
  es.addEventListener('end', () => es.close());
  es.addEventListener('failure', (e) => timeline.append(h('li', { class: 'error' }, JSON.parse(e.data).message)));
  cleanup.push(() => es.close());
}

// ---- dead letters ------------------------------------------------------------------

async function showDeadLetters() {
  const message = h('span', { class: 'toast', id: 'action-message' });
  const body = h('tbody');
  view.replaceChildren(
    h('h1', {}, 'Dead letters'),
    h(
      'p',
      { class: 'note' },
      'Messages mcpq could not turn into a call, or gave up on. Replay publishes the original payload again to its subject and deletes the dead letter.',
    ),
    h('div', { class: 'row-actions' }, message),
    h(
      'table',
      { id: 'dead-letters' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['seq', 'reason', 'code', 'call id', 'subject', 'at', 'message', 'payload', ''].map((t) => h('th', {}, t)),
        ),
      ),
      body,
    ),
  );
  const load = async () => {
    const { deadLetters } = await api('/api/dead-letters');
    body.replaceChildren(
      ...deadLetters.map((l) =>
        h(
          'tr',
          { 'data-seq': l.dlqSeq },
          h('td', {}, String(l.dlqSeq)),
          h('td', {}, l.reason),
          h('td', {}, errorLink(l.code)),
          h('td', { class: 'mono' }, l.callId || ''),
          h('td', { class: 'mono' }, l.subject),
          h('td', { title: l.at }, `${age(l.at)} ago`),
          h('td', {}, l.message),
          h(
            'td',
            {},
            h(
              'details',
              {},
              h('summary', {}, 'payload'),
              h('pre', {}, l.payload ?? (l.payloadBase64 ? `(base64) ${l.payloadBase64}` : '')),
            ),
          ),
          h(
            'td',
            {},
            h(
              'button',
              {
                class: 'replay',
                disabled: me.readOnly,
                title: me.readOnly ? 'this token is read-only' : 'publish it again',
                onclick: () => replay(l.dlqSeq),
              },
              'Replay',
            ),
          ),
        ),
      ),
    );
    if (deadLetters.length === 0) body.append(h('tr', {}, h('td', { colspan: 9, class: 'muted' }, 'no dead letters')));
  };
  const replay = async (seq) => {
    try {
      const out = await api(`/api/dead-letters/${seq}/replay`, { method: 'POST' });
      message.textContent =
        out.outcome === 'replayed'
          ? `replayed dead letter ${seq} to ${out.subject} (${out.stream} seq ${out.seq})`
          : `not replayed: ${out.subject} still holds this message id in its duplicate window; try again later`;
    } catch (err) {
      message.textContent = err.message;
    }
    await load();
  };
  await load();
}

// ---- servers and queues ------------------------------------------------------------

async function showSystem() {
  const servers = h('div', { id: 'servers' });
  const streams = h('div', { id: 'streams' });
  const joiners = h('div', { id: 'joiners' });
  view.replaceChildren(
    h('h1', {}, 'Servers & queues'),
    h('h2', {}, 'MCP servers'),
    servers,
    h('h2', {}, 'Streams and consumers'),
    streams,
    h('h2', {}, 'Joiners'),
    joiners,
  );
  const table = (head, rows) =>
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          head.map((t) => h('th', {}, t)),
        ),
      ),
      h('tbody', {}, rows),
    );
  const load = async () => {
    const [s, q] = await Promise.all([api('/api/servers'), api('/api/queues')]);
    servers.replaceChildren(
      table(
        ['alias', 'url', 'protocol', 'configured mode', 'tools (mode)', 'known from'],
        s.servers.map((v) =>
          h(
            'tr',
            { 'data-alias': v.alias },
            h('td', {}, v.alias),
            h('td', { class: 'mono' }, v.url || ''),
            h('td', {}, v.protocol || '—'),
            h('td', {}, v.configuredMode || '—'),
            h(
              'td',
              {},
              v.tools.length ? v.tools.map((t) => `${t.name} (${t.mode || '?'}${t.idempotent ? ', idempotent' : ''})`).join(', ') : '—',
            ),
            h('td', { class: 'muted' }, v.source === 'catalog' ? `catalog, ${v.fetchedAt}` : 'config only (no catalog entry yet)'),
          ),
        ),
      ),
    );
    streams.replaceChildren(
      table(
        ['stream', 'messages', 'oldest', 'consumer', 'pending', 'ack pending', 'redelivered', 'waiting pulls'],
        q.streams.flatMap((st) => {
          const cs = st.consumers.length ? st.consumers : [undefined];
          return cs.map((c, i) =>
            h(
              'tr',
              { 'data-stream': st.stream },
              h('td', {}, i === 0 ? st.stream : ''),
              h('td', {}, i === 0 ? String(st.messages) : ''),
              h('td', { title: st.oldest || '' }, i === 0 && st.oldest ? `${age(st.oldest)} ago` : ''),
              h('td', {}, c ? c.name : '—'),
              h('td', {}, c ? String(c.pending) : ''),
              h('td', {}, c ? String(c.ackPending) : ''),
              h('td', {}, c ? String(c.redelivered) : ''),
              h('td', {}, c ? String(c.waiting) : ''),
            ),
          );
        }),
      ),
    );
    joiners.replaceChildren(
      q.joiners.length
        ? table(
            ['joiner', 'held', 'parked', 'answered'],
            q.joiners.map((j) =>
              h(
                'tr',
                { 'data-joiner': j.id },
                h('td', { class: 'mono' }, j.id),
                h('td', {}, String(j.held)),
                h('td', {}, String(j.parked)),
                h('td', {}, j.at),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'no joiner answered within 1 s'),
    );
  };
  await load();
  const timer = setInterval(() => load().catch(() => undefined), 5000);
  cleanup.push(() => clearInterval(timer));
}

// ---- frame -------------------------------------------------------------------------

function live(on) {
  document.getElementById('live').classList.toggle('on', on);
}

async function route() {
  for (const f of cleanup.splice(0)) f();
  const hash = location.hash.replace(/^#/, '') || '/';
  const section = hash.startsWith('/call/')
    ? 'calls'
    : hash.startsWith('/dead-letters')
      ? 'dead-letters'
      : hash.startsWith('/system')
        ? 'system'
        : 'calls';
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === section);
  try {
    if (hash.startsWith('/call/')) await showCall(decodeURIComponent(hash.slice('/call/'.length)));
    else if (section === 'dead-letters') await showDeadLetters();
    else if (section === 'system') await showSystem();
    else showCalls();
  } catch (err) {
    view.replaceChildren(h('p', { class: 'error' }, String(err.message)));
  }
}

async function start() {
  me = await api('/api/me');
  const who = document.getElementById('who');
  who.append(`${me.admin ? 'operator' : `tenant ${me.tenant}`}${me.readOnly ? ' · read-only' : ''}`);
  if (me.loginRequired) {
    who.append(
      h(
        'button',
        {
          class: 'link',
          onclick: async () => {
            await api('/logout', { method: 'POST' }).catch(() => undefined);
            location.reload();
          },
        },
        'log out',
      ),
    );
  }
  document.body.dataset.readOnly = String(me.readOnly);
  window.addEventListener('hashchange', route);
  await route();
}

start().catch((err) => view.replaceChildren(h('p', { class: 'error' }, String(err.message))));
