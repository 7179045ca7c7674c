// The Integration › Triggers page: plain DOM over the /v1 API, with the API key kept for the tab's
// session only. Every value from the API reaches the page through textContent, never as HTML.
'use strict';

const $ = (id) => document.getElementById(id);
const state = { key: sessionStorage.getItem('triggers.apiKey'), eventTypes: [], trigger: null, logId: null };

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? '')));
  return node;
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${state.key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (res.status === 401) signOut('Your API key was not accepted.');
  return { ok: res.ok, status: res.status, data };
}

function say(text) {
  $('status').textContent = text;
}

function errorBox(data) {
  const box = el('div', { class: 'error' }, el('strong', {}, data?.error ?? 'Error'));
  if (data?.details?.length) box.append(el('ul', {}, ...data.details.map((d) => el('li', {}, d.path ? `${d.path}: ${d.message}` : d.message))));
  return box;
}

/**
 * Loads a view (`triggers`, `logs`, `health`): says so while it loads, then shows what came, or
 * the failure with a Retry button instead of an empty view (a slow list must not look like a
 * tenant without triggers). `load` answers nothing when it shows the view, or `{error}`.
 */
async function loadView(view, what, load) {
  const note = $(`${view}-state`);
  note.classList.remove('error');
  note.replaceChildren(`Loading ${what}…`);
  note.hidden = false;
  const failed = await load().catch((err) => ({ error: err.message }));
  if (!failed) {
    note.hidden = true;
    return;
  }
  note.classList.add('error');
  note.replaceChildren(`Could not load ${what}: ${failed.error}. `, el('button', { type: 'button', onclick: () => loadView(view, what, load) }, 'Retry'));
}

const failure = (res) => ({ error: res.data?.error ?? `HTTP ${res.status}` });

function signOut(message) {
  sessionStorage.removeItem('triggers.apiKey');
  state.key = null;
  $('workspace').hidden = true;
  $('sign-out').hidden = true;
  $('sign-in').hidden = false;
  say(message ?? 'Signed out.');
}

async function signIn(key) {
  state.key = key;
  const types = await api('GET', '/v1/event-types');
  if (!types.ok) return;
  sessionStorage.setItem('triggers.apiKey', key);
  state.eventTypes = types.data.items;
  $('event-type').replaceChildren(...state.eventTypes.map((t) => el('option', { value: t.id }, `${t.displayName} (${t.id})`)));
  $('sign-in').hidden = true;
  $('sign-out').hidden = false;
  $('workspace').hidden = false;
  say('Signed in.');
  await loadTriggers();
}

/** The banner of a trigger whose webhook endpoint is failing (GET /v1/triggers/:id carries its state). */
function endpointBanner(health) {
  if (!health || health.state !== 'failing') return null;
  const since = health.since ? ` since ${new Date(health.since).toLocaleString()}` : '';
  return `This trigger's webhook endpoint is failing${since}: ${health.message ?? 'its deliveries fail'}. Its webhooks are retried within their retry window; once the endpoint answers 2xx they are delivered.`;
}

/** The list's "Last delivery" cell: the last step the trigger's actions logged, which the list carries. */
function lastDeliveryCell(last) {
  if (!last) return el('span', { class: 'info' }, '—');
  return el('span', { class: last.status }, `${last.step} ${last.responseStatus ?? ''} ${new Date(last.time).toLocaleString()}`.replace(/\s+/g, ' ').trim());
}

const percent = (ratio) => `${(ratio * 100).toFixed(ratio === 1 || ratio === 0 ? 0 : 1)} %`;

function successCell(h) {
  if (!h || h.successRatio === null) return el('span', { class: 'info', title: 'no attempt in the last 24 hours' }, '—');
  const cls = h.successRatio >= 0.99 ? 'ok' : h.successRatio >= 0.9 ? 'info' : 'failed';
  return el('span', { class: cls, title: `${h.delivered} delivered, ${h.failedAttempts} failed attempts, ${h.gaveUp} given up` }, percent(h.successRatio));
}

/** Triggers and event logs come a page at a time, by the API's cursor, with a button for the next. */
const PAGE = 50;

function loadTriggers() {
  $('no-triggers').hidden = true;
  $('more-triggers').hidden = true;
  return loadView('triggers', 'triggers', () => showTriggers());
}

/** One request per page: each trigger carries its columns (24-hour success, last delivery). */
async function showTriggers(cursor) {
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (cursor) q.set('cursor', cursor);
  const res = await api('GET', `/v1/triggers?${q}`);
  if (!res.ok) return failure(res);
  const rows = res.data.items.map((t) => {
    const toggle = el('input', { type: 'checkbox', 'aria-label': `Enable ${t.name}`, onchange: (e) => setEnabled(t, e.target.checked) });
    toggle.checked = t.enabled;
    return el(
      'tr',
      {},
      el('td', {}, el('button', { type: 'button', class: 'link', onclick: () => openTrigger(t.id) }, t.name)),
      el('td', {}, t.eventType),
      el('td', {}, toggle),
      el(
        'td',
        {},
        successCell(t.deliveries24h),
        t.endpointHealth?.state === 'failing'
          ? el('span', { class: 'failed endpoint-failing', title: endpointBanner(t.endpointHealth) }, 'endpoint failing')
          : '',
      ),
      el('td', {}, lastDeliveryCell(t.lastDelivery)),
      el('td', {}, el('button', { type: 'button', onclick: () => deleteTrigger(t) }, 'Delete')),
    );
  });
  state.triggersCursor = showPage('triggers', rows, cursor, res.data.nextCursor);
}

/**
 * Shows a page of rows in the table `name` (after those shown when `cursor`, else instead of
 * them), its "more" button when there is a next page, its "none" note when the table is empty;
 * answers the cursor of the next page.
 */
function showPage(name, rows, cursor, nextCursor) {
  const body = $(name).tBodies[0];
  if (cursor) body.append(...rows);
  else body.replaceChildren(...rows);
  $(`more-${name}`).hidden = !nextCursor;
  $(`no-${name}`).hidden = body.rows.length > 0;
  return nextCursor;
}

function moreTriggers() {
  $('more-triggers').hidden = true;
  return loadView('triggers', 'more triggers', () => showTriggers(state.triggersCursor));
}

async function setEnabled(t, enabled) {
  const res = await api('PATCH', `/v1/triggers/${encodeURIComponent(t.id)}`, { enabled });
  say(res.ok ? `"${t.name}" ${enabled ? 'enabled' : 'disabled'}.` : `Could not change "${t.name}": ${res.data?.error}`);
  await loadTriggers();
}

async function deleteTrigger(t) {
  if (!confirm(`Delete "${t.name}"?`)) return;
  const res = await api('DELETE', `/v1/triggers/${encodeURIComponent(t.id)}`);
  say(res.ok ? `"${t.name}" deleted.` : `Could not delete "${t.name}": ${res.data?.error}`);
  if (state.trigger?.id === t.id) $('detail').hidden = true;
  await loadTriggers();
}

const TABS = ['settings', 'try', 'logs', 'health'];

function selectTab(name) {
  for (const tab of TABS) {
    $(`tab-${tab}`).setAttribute('aria-selected', String(tab === name));
    $(`panel-${tab}`).hidden = tab !== name;
  }
  if (name === 'logs') loadLogs();
  if (name === 'health') loadHealth();
}

function sampleFor(type) {
  return JSON.stringify(state.eventTypes.find((t) => t.id === type)?.sample ?? { type, payload: {} }, null, 2);
}

/** The parameters as saved, pretty-printed; text with comments stays as it was written. */
function prettyParameters(t) {
  const text = t.parametersText ?? JSON.stringify(t.parameters);
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function showForm(t) {
  state.trigger = t;
  $('detail').hidden = false;
  $('detail-title').textContent = t ? t.name : 'New trigger';
  const banner = endpointBanner(t?.endpointHealth);
  $('endpoint-banner').hidden = !banner;
  $('endpoint-banner').textContent = banner ?? '';
  $('name').value = t?.name ?? '';
  $('event-type').value = t?.eventType ?? state.eventTypes[0]?.id;
  $('enabled').checked = t?.enabled ?? true;
  $('parameters').value = t
    ? prettyParameters(t)
    : JSON.stringify(
        { conditions: [{ reference: 'campaignId', operator: '=', value: '' }], actions: [{ action: 'webhook', parameters: { url: 'https://' } }] },
        null,
        2,
      );
  $('save-result').replaceChildren();
  $('secret').hidden = true;
  $('try-event').value = sampleFor($('event-type').value);
  $('try-result').replaceChildren();
  $('log-detail').hidden = true;
  for (const tab of TABS.slice(1)) $(`tab-${tab}`).disabled = !t;
  $('parameters-error').hidden = true;
  $('bulk-result').textContent = '';
  const local = (ms) => new Date(ms - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
  $('bulk-from').value = local(Date.now() - 24 * 3_600_000);
  $('bulk-to').value = local(Date.now() + 60_000);
  selectTab('settings');
  $('name').focus();
}

async function openTrigger(id) {
  const res = await api('GET', `/v1/triggers/${encodeURIComponent(id)}`);
  if (res.ok) showForm(res.data);
}

async function save(event) {
  event.preventDefault();
  const body = { name: $('name').value, eventType: $('event-type').value, enabled: $('enabled').checked, parameters: $('parameters').value };
  const t = state.trigger;
  const res = t ? await api('PUT', `/v1/triggers/${encodeURIComponent(t.id)}`, { ...body, version: t.version }) : await api('POST', '/v1/triggers', body);
  const out = $('save-result');
  $('parameters-error').hidden = true;
  if (!res.ok) {
    out.replaceChildren(errorBox(res.data));
    pointAtLine(res.data);
    return;
  }
  out.replaceChildren(
    el('div', { class: 'success' }, 'Trigger has been updated'),
    ...(res.data.warnings ?? []).map((w) => el('div', { class: 'warning' }, w.message ?? JSON.stringify(w))),
  );
  state.trigger = res.data;
  $('detail-title').textContent = res.data.name;
  for (const tab of TABS.slice(1)) $(`tab-${tab}`).disabled = false;
  if (res.data.webhookSecret) {
    $('secret').hidden = false;
    $('secret').textContent = `Signing secret (shown once; receivers verify the webhook-signature header with it): ${res.data.webhookSecret}`;
  }
  await loadTriggers();
}

/** Shows the line of the parameters an error names ("line L, column C: …") with a caret, and selects it. */
function pointAtLine(data) {
  const detail = (data?.details ?? []).find((d) => /^parameters/.test(d.path ?? '') && /line \d+, column \d+/.test(d.message));
  if (!detail) return;
  const [, line, column] = /line (\d+), column (\d+)/.exec(detail.message).map(Number);
  const area = $('parameters');
  const lines = area.value.split('\n');
  const text = lines[line - 1] ?? '';
  const box = $('parameters-error');
  box.textContent = `line ${line}: ${text}\n${' '.repeat(`line ${line}: `.length + column - 1)}^ ${detail.message.replace(/^line \d+, column \d+: /, '')}`;
  box.hidden = false;
  const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
  area.focus();
  area.setSelectionRange(start, start + text.length);
}

function readTryEvent() {
  try {
    return JSON.parse($('try-event').value);
  } catch (err) {
    $('try-result').replaceChildren(errorBox({ error: 'Invalid JSON format', details: [{ path: 'event', message: err.message }] }));
    return undefined;
  }
}

async function evaluate() {
  const event = readTryEvent();
  if (!event) return;
  const res = await api('POST', `/v1/triggers/${encodeURIComponent(state.trigger.id)}/evaluate`, { event });
  if (!res.ok) return $('try-result').replaceChildren(errorBox(res.data));
  const x = res.data;
  $('try-result').replaceChildren(
    el('p', { class: x.matched ? 'ok' : 'failed' }, x.matched ? `Matches: ${x.actions.map((a) => a.action).join(', ')} would run.` : 'Does not match.'),
    ...(x.eventTypeMatches ? [] : [el('p', { class: 'failed' }, 'The event is of another type.')]),
    ...(x.enabled ? [] : [el('p', { class: 'info' }, 'The trigger is disabled.')]),
    el(
      'ul',
      {},
      ...x.conditions.map((c) =>
        el(
          'li',
          { class: c.passed ? 'ok' : 'failed' },
          `${c.passed ? '✓' : '✗'} ${c.reference} ${c.operator} ${c.expected} — actual: ${c.found ? JSON.stringify(c.actual) : '(absent)'}`,
        ),
      ),
    ),
  );
}

async function sendTest() {
  const event = readTryEvent();
  if (!event) return;
  const res = await api('POST', `/v1/triggers/${encodeURIComponent(state.trigger.id)}/test`, { payload: event.payload });
  $('try-result').replaceChildren(
    res.ok
      ? el('p', { class: 'success' }, `Test webhook queued to ${res.data.commands.map((c) => c.url).join(', ')}; see the Event Logs tab.`)
      : errorBox(res.data),
  );
}

function loadLogs(event) {
  event?.preventDefault();
  if (!state.trigger) return;
  $('no-logs').hidden = true;
  $('more-logs').hidden = true;
  return loadView('logs', 'event logs', () => showLogs());
}

function moreLogs() {
  $('more-logs').hidden = true;
  return loadView('logs', 'older event logs', () => showLogs(state.logsCursor));
}

async function showLogs(cursor) {
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (cursor) q.set('cursor', cursor);
  if ($('log-status').value) q.set('status', $('log-status').value);
  if ($('log-from').value) q.set('from', new Date($('log-from').value).toISOString());
  if ($('log-to').value) q.set('to', new Date($('log-to').value).toISOString());
  const res = await api('GET', `/v1/triggers/${encodeURIComponent(state.trigger.id)}/event-logs?${q}`);
  if (!res.ok) return failure(res);
  const rows = res.data.items.map((l) =>
    el(
      'tr',
      {},
      el('td', {}, el('button', { type: 'button', class: 'link', onclick: () => openLog(l.logId) }, new Date(l.time).toLocaleString())),
      el('td', {}, l.step),
      el('td', { class: l.status }, l.status),
      el('td', {}, l.attempt ?? ''),
      el('td', {}, l.responseStatus ?? l.errorClass ?? ''),
      el('td', {}, l.durationMs !== null ? `${l.durationMs} ms` : ''),
      el('td', {}, l.nextDueAt ? new Date(l.nextDueAt).toLocaleString() : ''),
      el('td', {}, l.origin),
    ),
  );
  state.logsCursor = showPage('logs', rows, cursor, res.data.nextCursor);
}

async function openLog(logId) {
  const res = await api('GET', `/v1/event-logs/${encodeURIComponent(logId)}`);
  if (!res.ok) return;
  const l = res.data;
  state.logId = logId;
  $('log-detail').hidden = false;
  $('log-message').textContent =
    `${l.step} (${l.status}) at ${new Date(l.time).toLocaleString()}: ${l.message ?? ''}${l.traceId ? ` — trace ${l.traceId}` : ''}`;
  const h = l.http;
  const headers = (o) =>
    Object.entries(o ?? {})
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n');
  $('log-request').textContent = h ? `${h.method} ${h.url}\n${headers(h.requestHeaders)}\n\n${h.requestBody}` : '(no request)';
  $('log-response').textContent = h
    ? h.responseStatus !== null
      ? `HTTP ${h.responseStatus}${h.durationMs !== null ? ` in ${h.durationMs} ms` : ''}\n${headers(h.responseHeaders)}\n\n${h.responseBody ?? ''}${h.responseTruncated ? '\n… (longer than 10 kB: the rest was not read)' : ''}`
      : `no response: ${h.errorClass}`
    : '(no response)';
  $('redeliver').hidden = !h;
  $('log-detail-title').focus?.();
}

async function redeliver() {
  const res = await api('POST', `/v1/event-logs/${encodeURIComponent(state.logId)}/redeliver`);
  say(res.ok ? `Redelivery queued to ${res.data.url}.` : `Could not redeliver: ${res.data?.error}`);
}

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

/** Stacked bars of delivered (below) and failed (above) attempts per bucket, drawn as inline SVG. */
function chart(series, bucketHours) {
  const width = 720;
  const height = 200;
  const left = 36;
  const bottom = 24;
  const max = Math.max(1, ...series.map((b) => b.delivered + b.failed));
  const step = (width - left) / series.length;
  const y = (n) => ((height - bottom) * n) / max;
  const total = series.reduce((n, b) => n + b.delivered + b.failed, 0);
  const root = svg('svg', {
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': `Attempts per ${bucketHours === 1 ? 'hour' : `${bucketHours} hours`}: ${total} in the window, at most ${max} in one`,
  });
  root.append(svg('line', { class: 'axis', x1: left, y1: height - bottom, x2: width, y2: height - bottom }));
  root.append(svg('text', { x: 0, y: 10 }, String(max)), svg('text', { x: 0, y: height - bottom }, '0'));
  series.forEach((b, i) => {
    const x = left + i * step + 1;
    const w = Math.max(1, step - 2);
    const okH = y(b.delivered);
    const failH = y(b.failed);
    const label = `${new Date(b.t).toLocaleString()}: ${b.delivered} delivered, ${b.failed} failed`;
    if (okH > 0) root.append(svg('rect', { class: 'bar-ok', x, y: height - bottom - okH, width: w, height: okH }, svg('title', {}, label)));
    if (failH > 0) root.append(svg('rect', { class: 'bar-failed', x, y: height - bottom - okH - failH, width: w, height: failH }, svg('title', {}, label)));
    if (i % Math.ceil(series.length / 6) === 0) {
      const d = new Date(b.t);
      const tick =
        bucketHours === 1 ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : d.toLocaleDateString([], { month: 'short', day: 'numeric' });
      root.append(svg('text', { x, y: height - 8 }, tick));
    }
  });
  return root;
}

function loadHealth() {
  if (!state.trigger) return;
  return loadView('health', 'delivery health', showHealth);
}

async function showHealth() {
  const span = $('health-window').value;
  const res = await api('GET', `/v1/triggers/${encodeURIComponent(state.trigger.id)}/stats?window=${span}`);
  if (!res.ok) return failure(res);
  const s = res.data;
  const ms = (v) => (v === null ? '—' : `${v} ms`);
  const counts = [
    ['Success ratio', s.successRatio === null ? '—' : percent(s.successRatio)],
    ['Delivered', s.delivered],
    ['Failed attempts', s.failedAttempts],
    ['Waiting retries', s.waitingRetries],
    ['Given up', s.gaveUp],
    ['Latency p50', ms(s.latencyMs.p50)],
    ['Latency p95', ms(s.latencyMs.p95)],
  ];
  $('health-counts').replaceChildren(...counts.map(([k, v]) => el('div', {}, el('dt', {}, k), el('dd', {}, v))));
  const bucketHours = span === '24h' ? 1 : 6;
  $('health-bucket').textContent = bucketHours === 1 ? 'hour' : '6 hours';
  $('health-chart').replaceChildren(chart(s.series, bucketHours));
}

async function redeliverFailed(event) {
  event.preventDefault();
  const body = { status: $('bulk-status').value, from: new Date($('bulk-from').value).toISOString(), to: new Date($('bulk-to').value).toISOString() };
  const res = await api('POST', `/v1/triggers/${encodeURIComponent(state.trigger.id)}/event-logs:redeliver`, body);
  const out = $('bulk-result');
  if (!res.ok) return out.replaceChildren(errorBox(res.data));
  out.textContent = 'Redelivery started…';
  for (;;) {
    const job = await api('GET', `/v1/jobs/${encodeURIComponent(res.data.jobId)}`);
    if (!job.ok) return out.replaceChildren(errorBox(job.data));
    const j = job.data;
    const progress = `redelivered ${j.redelivered}, skipped ${j.skipped} (delivered since, or URL refused)${j.leftOut ? `, ${j.leftOut} left out (too many for one job)` : ''}`;
    if (j.state !== 'running') {
      out.textContent = j.state === 'done' ? `Redelivery done: ${progress}.` : `Redelivery failed: ${j.error}`;
      return;
    }
    out.textContent = `Redelivery running: ${progress}…`;
    await new Promise((r) => setTimeout(r, 500));
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('sign-in-form').addEventListener('submit', (e) => {
    e.preventDefault();
    signIn($('api-key').value.trim());
  });
  $('sign-out').addEventListener('click', () => signOut());
  $('new-trigger').addEventListener('click', () => showForm(null));
  $('trigger-form').addEventListener('submit', save);
  $('event-type').addEventListener('change', () => ($('try-event').value = sampleFor($('event-type').value)));
  for (const tab of TABS) $(`tab-${tab}`).addEventListener('click', () => selectTab(tab));
  $('health-refresh').addEventListener('click', loadHealth);
  $('more-triggers').addEventListener('click', moreTriggers);
  $('more-logs').addEventListener('click', moreLogs);
  $('health-window').addEventListener('change', loadHealth);
  $('bulk-form').addEventListener('submit', redeliverFailed);
  $('evaluate').addEventListener('click', evaluate);
  $('send-test').addEventListener('click', sendTest);
  $('log-filters').addEventListener('submit', loadLogs);
  $('redeliver').addEventListener('click', redeliver);
  if (state.key) signIn(state.key);
});
