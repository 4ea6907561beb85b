/**
 * The admin dashboard (issue #5): one self-contained HTML page at `GET /` and `GET /dashboard`, a thin
 * client of the admin API (admin-api.ts). No external assets: CSS and JS are inline, allowed by a fresh
 * CSP nonce per response (`dashboardCsp`), and the page may only talk to its own origin.
 *
 * The page asks for the admin token and keeps it in sessionStorage (this tab only; never a cookie, so no
 * CSRF), then shows each connection with its status and status message, its Leadpipe key form, its
 * audiences with subscribe toggles and "sync now" / "preview" (dry run) buttons, its recent sync runs with
 * their counts and a "retry failed records" button, its queued jobs, and the HubSpot/Salesforce install
 * links. Everything from the API is rendered with textContent (never innerHTML), so data cannot become markup.
 */
import { randomBytes } from 'node:crypto';
import { Router, type Request, type Response } from 'express';

/** The page's Content-Security-Policy: only its own nonce'd style and script, and fetches to its origin. */
export function dashboardCsp(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** A fresh nonce for one response (128 random bits, base64). */
export function newNonce(): string {
  return randomBytes(16).toString('base64');
}

const CSS = `
:root { color-scheme: light dark; --fg: #1d2330; --muted: #667085; --line: #d0d5dd; --bg: #f7f8fa; --card: #fff; --accent: #3b5bdb; --bad: #c92a2a; --ok: #2b8a3e; --warn: #e67700; }
@media (prefers-color-scheme: dark) { :root { --fg: #e9ecef; --muted: #98a2b3; --line: #3a3f4b; --bg: #15181e; --card: #1e222a; --accent: #748ffc; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 16px; padding: 12px 24px; border-bottom: 1px solid var(--line); background: var(--card); flex-wrap: wrap; }
header h1 { font-size: 18px; margin: 0; }
header nav { display: flex; gap: 12px; align-items: center; margin-left: auto; }
main { max-width: 1200px; margin: 0 auto; padding: 16px 24px 48px; }
a { color: var(--accent); }
h2 { font-size: 16px; margin: 0 0 8px; }
h3 { font-size: 14px; margin: 16px 0 6px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 16px; margin: 16px 0; }
.row { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; border: 1px solid currentColor; }
.status-active, .status-succeeded, .status-done { color: var(--ok); }
.status-needs_reauth, .status-failed, .status-disconnected { color: var(--bad); }
.status-paused, .status-partial, .status-running, .status-queued, .status-pending { color: var(--warn); }
table { border-collapse: collapse; width: 100%; margin-top: 4px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 12px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
button { font: inherit; padding: 4px 10px; border-radius: 6px; border: 1px solid var(--line); background: var(--card); color: var(--fg); cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button:disabled { opacity: 0.5; cursor: default; }
input[type=password], input[type=text], textarea { font: inherit; padding: 4px 8px; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: var(--fg); }
textarea { width: 100%; min-height: 90px; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
pre { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 8px; overflow: auto; max-height: 360px; font-size: 12px; }
#notice { min-height: 1.5em; margin: 8px 0; white-space: pre-wrap; }
#notice.error { color: var(--bad); }
#notice.ok { color: var(--ok); }
.error-text { color: var(--bad); }
[hidden] { display: none !important; }
`;

/**
 * The page's script. Plain browser JS in a string: no template literals and no `${` inside, so this
 * TypeScript template stays a constant. Data from the API only ever reaches the DOM through textContent.
 */
const SCRIPT = String.raw`
(function () {
  'use strict';
  var TOKEN_KEY = 'orbit-sync.adminToken';
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, opts, children) {
    var node = document.createElement(tag);
    opts = opts || {};
    if (opts.text !== undefined && opts.text !== null) node.textContent = String(opts.text);
    if (opts.className) node.className = opts.className;
    if (opts.type) node.type = opts.type;
    if (opts.title) node.title = String(opts.title);
    if (opts.onClick) node.addEventListener('click', opts.onClick);
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }
  function statusClass(status) { return 'badge status-' + String(status).replace(/[^a-z_]/g, ''); }
  function badge(status) { return el('span', { className: statusClass(status), text: status }); }
  function when(iso) { if (!iso) return ''; var d = new Date(iso); return isNaN(d.getTime()) ? String(iso) : d.toLocaleString(); }
  function path(part) { return encodeURIComponent(String(part)); }

  function token() { try { return sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; } }
  function notice(message, kind) { var n = $('notice'); n.textContent = message || ''; n.className = kind || ''; }

  function ApiError(status, code, message) { this.status = status; this.code = code; this.message = message; }

  async function api(method, url, body) {
    var headers = { authorization: 'Bearer ' + token(), accept: 'application/json' };
    var init = { method: method, headers: headers, cache: 'no-store', credentials: 'omit' };
    if (body !== undefined) { headers['content-type'] = 'application/json'; init.body = JSON.stringify(body); }
    var res = await fetch('/api' + url, init);
    var data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (res.status === 401) {
      try { sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* ignore */ }
      showLogin('The admin token was refused. Enter it again.');
      throw new ApiError(401, 'AUTH_INVALID', 'The admin token was refused.');
    }
    if (!res.ok) {
      var err = data && data.error ? data.error : { code: 'HTTP_' + res.status, message: res.statusText };
      throw new ApiError(res.status, err.code, err.message);
    }
    return { status: res.status, data: data };
  }
  function describe(err) { return err instanceof ApiError ? err.code + ': ' + err.message : String(err && err.message ? err.message : err); }

  /** Runs an action from a button: disabled while it runs, errors shown in the notice line. */
  function action(button, work) {
    return async function (event) {
      if (event) event.preventDefault();
      if (button) button.disabled = true;
      try { await work(); } catch (err) { if (!(err instanceof ApiError && err.status === 401)) notice(describe(err), 'error'); }
      finally { if (button) button.disabled = false; }
    };
  }

  function showLogin(message) {
    $('app').hidden = true;
    $('logout').hidden = true;
    $('login').hidden = false;
    notice(message || '', message ? 'error' : '');
    $('token').focus();
  }

  function table(headers, rows) {
    var head = el('tr', {}, headers.map(function (h) { return el('th', { text: h.label, className: h.num ? 'num' : '' }); }));
    var t = el('table', {}, [el('thead', {}, [head]), el('tbody', {}, rows)]);
    return t;
  }
  function cell(value, num) { return el('td', { text: value === undefined || value === null ? '' : value, className: num ? 'num' : '' }); }

  // ── a connection ──────────────────────────────────────────────────────────────────────────────

  function renderConnection(connection) {
    var id = connection.id;
    var card = el('section', { className: 'card' });
    var title = el('div', { className: 'row' }, [
      el('h2', { text: connection.crm + ' ' + connection.accountId }),
      badge(connection.status),
      el('span', { className: 'muted', text: id }),
    ]);
    card.appendChild(title);
    if (connection.statusMessage) card.appendChild(el('p', { className: 'error-text', text: connection.statusMessage }));

    // Leadpipe key
    var keyState = el('span', { className: 'muted', text: '…' });
    var keyInput = el('input', { type: 'password' });
    keyInput.placeholder = 'Leadpipe API key';
    keyInput.autocomplete = 'off';
    keyInput.setAttribute('aria-label', 'Leadpipe API key');
    var keyButton = el('button', { text: 'Save key', className: 'primary', type: 'submit' });
    var keyForm = el('form', { className: 'row' }, [el('strong', { text: 'Leadpipe key:' }), keyState, keyInput, keyButton]);
    keyForm.addEventListener('submit', action(keyButton, async function () {
      var value = keyInput.value.trim();
      if (!value) { notice('Enter the organization’s Leadpipe API key.', 'error'); return; }
      var r = await api('PUT', '/connections/' + path(id) + '/leadpipe-key', { apiKey: value });
      keyInput.value = '';
      notice('Leadpipe key saved; ' + r.data.audiences + ' audience(s) visible.', 'ok');
      await refreshDetails();
    }));
    card.appendChild(keyForm);

    var audiencesBox = el('div');
    var previewBox = el('div');
    var runsBox = el('div');
    var jobsBox = el('div');
    var overridesBox = el('div');
    card.appendChild(el('h3', { text: 'Audiences' }));
    card.appendChild(audiencesBox);
    card.appendChild(previewBox);
    card.appendChild(el('h3', { text: 'Recent sync runs' }));
    card.appendChild(runsBox);
    card.appendChild(el('h3', { text: 'Jobs' }));
    card.appendChild(jobsBox);
    card.appendChild(el('h3', { text: 'Overrides' }));
    card.appendChild(overridesBox);

    async function syncNow(audienceId) {
      var r = await api('POST', '/connections/' + path(id) + '/syncs', { audienceId: audienceId });
      notice(r.data.alreadyQueued ? 'A sync of ' + audienceId + ' is already queued (job ' + r.data.job.id + ').' : 'Sync of ' + audienceId + ' queued (job ' + r.data.job.id + ').', 'ok');
      await loadJobs();
    }

    async function preview(audienceId) {
      previewBox.replaceChildren(el('p', { className: 'muted', text: 'Preview of ' + audienceId + ' running…' }));
      try {
        var r = await api('POST', '/connections/' + path(id) + '/syncs/preview?limit=50', { audienceId: audienceId });
        var s = r.data.summary;
        var counts = ['rows', 'quarantined', 'duplicates', 'unchanged', 'created', 'updated', 'skipped', 'failed'].map(function (k) { return k + ' ' + s[k]; }).join(' · ');
        var plan = el('details', {}, [el('summary', { text: 'Plan: first ' + (s.plan || []).length + ' of ' + r.data.planTotal + ' records' }), el('pre', { text: JSON.stringify(s.plan || [], null, 2) })]);
        previewBox.replaceChildren(el('h3', { text: 'Preview (dry run) of ' + audienceId + ', run ' + s.runId }), el('p', { text: counts }), plan);
      } catch (err) {
        previewBox.replaceChildren(el('p', { className: 'error-text', text: 'Preview failed: ' + describe(err) }));
        if (err instanceof ApiError && err.status === 401) throw err;
      }
    }

    async function loadAudiences(keySet) {
      if (!keySet) { audiencesBox.replaceChildren(el('p', { className: 'muted', text: 'Set the Leadpipe key to list the organization’s audiences.' })); return; }
      audiencesBox.replaceChildren(el('p', { className: 'muted', text: 'Loading audiences…' }));
      var r;
      try { r = await api('GET', '/connections/' + path(id) + '/audiences'); }
      catch (err) { audiencesBox.replaceChildren(el('p', { className: 'error-text', text: describe(err) })); return; }
      if (r.data.audiences.length === 0) { audiencesBox.replaceChildren(el('p', { className: 'muted', text: 'The organization has no audiences.' })); return; }
      var rows = r.data.audiences.map(function (a) {
        var toggle = el('input', { type: 'checkbox', title: 'Subscribed: the scheduler syncs its completed runs' });
        toggle.checked = !!a.subscribed;
        toggle.addEventListener('change', action(toggle, async function () {
          var url = '/connections/' + path(id) + '/audiences/' + path(a.id);
          try {
            await api(toggle.checked ? 'PUT' : 'DELETE', url);
            notice((toggle.checked ? 'Subscribed to ' : 'Unsubscribed from ') + (a.name || a.id) + '.', 'ok');
          } catch (err) { toggle.checked = !toggle.checked; throw err; }
        }));
        var syncButton = el('button', { text: 'Sync now' });
        syncButton.addEventListener('click', action(syncButton, function () { return syncNow(a.id); }));
        var previewButton = el('button', { text: 'Preview' });
        previewButton.addEventListener('click', action(previewButton, function () { return preview(a.id); }));
        return el('tr', {}, [el('td', {}, [toggle]), cell(a.name), el('td', {}, [badge(a.status)]), cell(a.audienceSize, true), cell(when(a.lastRefreshedAt)), cell(a.id), el('td', { className: 'row' }, [syncButton, previewButton])]);
      });
      audiencesBox.replaceChildren(table([{ label: 'Subscribed' }, { label: 'Name' }, { label: 'Status' }, { label: 'Size', num: true }, { label: 'Refreshed' }, { label: 'Id' }, { label: '' }], rows));
    }

    async function loadRuns() {
      var r = await api('GET', '/sync-runs?limit=10&connectionId=' + path(id));
      if (r.data.syncRuns.length === 0) { runsBox.replaceChildren(el('p', { className: 'muted', text: 'No sync runs yet.' })); return; }
      var rows = r.data.syncRuns.map(function (run) {
        var actions = el('td');
        if (run.failed > 0 && run.audienceId) {
          var retry = el('button', { text: 'Retry failed records' });
          retry.addEventListener('click', action(retry, async function () {
            var res = await api('POST', '/sync-runs/' + path(run.id) + '/retry');
            notice('Retry queued (job ' + res.data.job.id + '); ' + res.data.errorsReset + ' record error(s) reset.', 'ok');
            await loadJobs();
          }));
          actions.appendChild(retry);
        }
        return el('tr', {}, [
          cell(when(run.createdAt)), cell(run.audienceId || 'file'), cell(run.runId), el('td', {}, [badge(run.status)]),
          cell(run.rows, true), cell(run.created, true), cell(run.updated, true), cell(run.unchanged, true), cell(run.skipped, true),
          cell(run.quarantined, true), cell(run.failed, true), cell(run.errorMessage), actions,
        ]);
      });
      runsBox.replaceChildren(table([
        { label: 'Started' }, { label: 'Audience' }, { label: 'Run' }, { label: 'Status' }, { label: 'Rows', num: true }, { label: 'Created', num: true },
        { label: 'Updated', num: true }, { label: 'Unchanged', num: true }, { label: 'Skipped', num: true }, { label: 'Quarantined', num: true },
        { label: 'Failed', num: true }, { label: 'Message' }, { label: '' },
      ], rows));
    }

    async function loadJobs() {
      var r = await api('GET', '/jobs?limit=10&connectionId=' + path(id));
      if (r.data.jobs.length === 0) { jobsBox.replaceChildren(el('p', { className: 'muted', text: 'No jobs.' })); return; }
      var rows = r.data.jobs.map(function (job) {
        var p = job.payload || {};
        return el('tr', {}, [cell(when(job.createdAt)), cell(job.kind), el('td', {}, [badge(job.status)]), cell(p.trigger), cell(p.audienceId), cell(p.runId), cell(job.attempts, true), cell(job.lastError)]);
      });
      jobsBox.replaceChildren(table([{ label: 'Queued' }, { label: 'Kind' }, { label: 'Status' }, { label: 'Trigger' }, { label: 'Audience' }, { label: 'Run' }, { label: 'Attempts', num: true }, { label: 'Last error' }], rows));
    }

    function renderOverrides(overrides) {
      var area = el('textarea');
      area.value = JSON.stringify(overrides || {}, null, 2);
      area.spellcheck = false;
      var save = el('button', { text: 'Save overrides' });
      save.addEventListener('click', action(save, async function () {
        var value;
        try { value = JSON.parse(area.value); } catch (e) { notice('Overrides: not valid JSON.', 'error'); return; }
        var r = await api('PUT', '/connections/' + path(id) + '/overrides', value);
        area.value = JSON.stringify(r.data.overrides, null, 2);
        notice('Overrides saved.', 'ok');
      }));
      overridesBox.replaceChildren(el('p', { className: 'muted', text: 'mode (create | updateOnly), createMinScore, priority { minScore, medium, high }, policies { property: always | ifEmpty }' }), area, el('div', { className: 'row' }, [save]));
    }

    async function refreshDetails() {
      var r = await api('GET', '/connections/' + path(id));
      var details = r.data.connection;
      keyState.textContent = details.leadpipeKeySet ? 'set' : 'not set';
      renderOverrides(details.overrides);
      await Promise.all([loadAudiences(details.leadpipeKeySet), loadRuns(), loadJobs()]);
    }
    refreshDetails().catch(function (err) { if (!(err instanceof ApiError && err.status === 401)) notice(describe(err), 'error'); });
    return card;
  }

  async function loadAll() {
    $('login').hidden = true;
    $('app').hidden = false;
    $('logout').hidden = false;
    var box = $('connections');
    box.replaceChildren(el('p', { className: 'muted', text: 'Loading…' }));
    var r = await api('GET', '/connections');
    if (r.data.connections.length === 0) {
      box.replaceChildren(el('p', { className: 'muted', text: 'No connections yet: install the app in HubSpot or Salesforce with the links above.' }));
      return;
    }
    box.replaceChildren.apply(box, r.data.connections.map(renderConnection));
  }

  $('login-form').addEventListener('submit', function (event) {
    event.preventDefault();
    var value = $('token').value.trim();
    if (!value) return;
    try { sessionStorage.setItem(TOKEN_KEY, value); } catch (e) { notice('This browser does not allow sessionStorage.', 'error'); return; }
    $('token').value = '';
    notice('', '');
    loadAll().catch(function (err) { if (!(err instanceof ApiError && err.status === 401)) notice(describe(err), 'error'); });
  });
  $('logout').addEventListener('click', function () {
    try { sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* ignore */ }
    $('connections').replaceChildren();
    showLogin('');
  });
  $('refresh').addEventListener('click', function () {
    notice('', '');
    loadAll().catch(function (err) { if (!(err instanceof ApiError && err.status === 401)) notice(describe(err), 'error'); });
  });

  if (token()) loadAll().catch(function (err) { if (!(err instanceof ApiError && err.status === 401)) notice(describe(err), 'error'); });
  else showLogin('');
})();
`;

/** The whole page; `nonce` must be the one in the response's CSP (dashboardCsp). */
export function renderDashboard(nonce: string): string {
  if (!/^[A-Za-z0-9+/=_-]+$/.test(nonce)) throw new Error('A CSP nonce is base64.');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>orbit-sync admin</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${CSS}</style>
</head>
<body>
<header>
  <h1>orbit-sync admin</h1>
  <nav>
    <span class="muted">Install:</span>
    <a href="/oauth/hubspot/install">HubSpot</a>
    <a href="/oauth/salesforce/install">Salesforce</a>
    <button id="logout" type="button" hidden>Sign out</button>
  </nav>
</header>
<main>
  <div id="notice" role="status" aria-live="polite"></div>
  <section id="login" class="card" hidden>
    <h2>Sign in</h2>
    <form id="login-form" class="row">
      <label for="token">Admin token</label>
      <input id="token" type="password" autocomplete="off" required>
      <button class="primary" type="submit">Sign in</button>
    </form>
    <p class="muted">The ADMIN_TOKEN of this server. It is kept in this browser tab only (sessionStorage) and sent as a Bearer token.</p>
  </section>
  <section id="app" hidden>
    <div class="row"><h2>Connections</h2><button id="refresh" type="button">Refresh</button></div>
    <div id="connections"></div>
  </section>
</main>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>
`;
}

function serve(_req: Request, res: Response): void {
  const nonce = newNonce();
  res
    .set({
      'Content-Security-Policy': dashboardCsp(nonce),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
    })
    .type('html')
    .send(renderDashboard(nonce));
}

/** `GET /` and `GET /dashboard`: the admin page. Mounted by app.ts. */
export function dashboard(): Router {
  const router = Router();
  router.get(['/', '/dashboard'], serve);
  return router;
}
