// Nexus web UI script: live regions fed by the event stream, the board's drag and drop, and a
// few keyboard helpers. Every page works without it; it only saves reloads and clicks.
(() => {
  'use strict';
  const csrf = document.body.dataset.csrf;
  const flash = document.getElementById('flash');

  // "/" focuses the search box, unless the user is typing somewhere.
  document.addEventListener('keydown', (e) => {
    if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target.closest && e.target.closest('input, textarea, select, [contenteditable]')) return;
    const search = document.getElementById('global-search');
    if (search) { e.preventDefault(); search.focus(); }
  });

  // After a failed submit, focus moves to the first field in error (or the form's summary).
  const firstError = document.querySelector('[aria-invalid="true"]') || document.getElementById('form-error');
  if (firstError) firstError.focus();

  // Chat: Enter sends, Shift+Enter starts a new line; the newest message is in view.
  document.addEventListener('keydown', (e) => {
    const box = e.target;
    if (e.key === 'Enter' && !e.shiftKey && box.matches && box.matches('#chat-form textarea')) {
      e.preventDefault();
      if (box.value.trim()) box.form.requestSubmit();
    }
  });
  const scrollMessages = () => {
    const list = document.getElementById('messages');
    if (list) list.scrollTop = list.scrollHeight;
  };
  scrollMessages();

  // Recent times also say how long ago ("12 min ago"); the exact time in the plant's zone
  // stays the text, and the UTC instant is on hover.
  const relative = () => {
    const now = Date.now();
    document.querySelectorAll('time[datetime]').forEach((el) => {
      const minutes = Math.round((now - Date.parse(el.getAttribute('datetime'))) / 60000);
      let rel = el.querySelector('.rel');
      if (!(minutes >= 0 && minutes < 24 * 60)) { if (rel) rel.remove(); return; }
      if (!rel) { rel = document.createElement('span'); rel.className = 'rel'; el.appendChild(rel); }
      rel.textContent = minutes < 1 ? ' · just now' : minutes < 60 ? ' · ' + minutes + ' min ago' : ' · ' + Math.floor(minutes / 60) + ' h ago';
    });
  };
  relative();
  setInterval(relative, 60000);

  // A wall display's clock (the andon board), in the screen's local time.
  const clock = document.querySelector('[data-clock]');
  const tick = () => { if (clock) clock.textContent = new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }); };
  tick();
  if (clock) setInterval(tick, 10000);

  // Chat: scrolling to the top of a conversation loads the older messages in place (the
  // "Older messages" link does the same without script).
  let loadingOlder = false;
  document.addEventListener('scroll', async (e) => {
    const list = e.target;
    if (loadingOlder || !list.id || list.id !== 'messages' || list.scrollTop > 20) return;
    const older = document.getElementById('older');
    if (!older) return;
    loadingOlder = true;
    try {
      const response = await fetch(older.href, { credentials: 'same-origin' });
      if (!response.ok) return;
      const doc = new DOMParser().parseFromString(await response.text(), 'text/html');
      const items = doc.querySelectorAll('#messages > li.message');
      const height = list.scrollHeight;
      const first = list.firstElementChild;
      items.forEach((item) => list.insertBefore(document.importNode(item, true), first));
      list.scrollTop = list.scrollHeight - height;
      const next = doc.getElementById('older');
      if (next) older.href = next.href; else older.remove();
      relative();
    } finally {
      loadingOlder = false;
    }
  }, true);

  const say = (message, refused) => {
    if (!flash) return;
    flash.textContent = message;
    flash.hidden = false;
    flash.classList.toggle('refused', refused);
    flash.setAttribute('role', refused ? 'alert' : 'status');
  };

  // ---- Live regions: elements with data-live="topic,…" are re-rendered by the server when an
  // event on one of their topics arrives, so what shows is always what this user may see.
  const regions = () => Array.from(document.querySelectorAll('[data-live][id]'));
  const topicsOf = (el) => el.dataset.live.split(',').map((t) => t.trim()).filter(Boolean);
  const topics = new Set();
  regions().forEach((r) => topicsOf(r).forEach((t) => topics.add(t)));

  const pending = new Set();
  let refreshing = false;
  let timer = null;
  const schedule = () => {
    if (timer) return;
    timer = setTimeout(refresh, 250);
  };
  const versions = (root) => {
    const seen = new Map();
    root.querySelectorAll('[data-activity-id], [data-message-id], [data-update-id], [data-notification-id], [data-handover-id], [data-andon-id]').forEach((el) => {
      const key = el.dataset.activityId || el.dataset.messageId || el.dataset.updateId || el.dataset.notificationId || el.dataset.handoverId || el.dataset.andonId;
      seen.set(key, el.dataset.version || '');
    });
    return seen;
  };
  // A conversation keeps what is shown (older pages loaded by scrolling too): new messages
  // are added at the bottom, deleted ones taken out, and the view follows only a reader who
  // was already at the bottom.
  function mergeMessages(list, fresh, before) {
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    const freshIds = new Set();
    let oldestFresh = Infinity;
    fresh.querySelectorAll('li.message').forEach((item) => {
      const key = item.dataset.messageId;
      freshIds.add(key);
      oldestFresh = Math.min(oldestFresh, Number(key));
      if (!before.has(key)) {
        item.classList.add('flash-new');
        list.appendChild(document.importNode(item, true));
      }
    });
    list.querySelectorAll('li.message').forEach((item) => {
      const key = item.dataset.messageId;
      if (Number(key) >= oldestFresh && !freshIds.has(key)) item.remove();
    });
    const empty = list.querySelector('li.empty');
    if (empty && freshIds.size) empty.remove();
    relative();
    if (atBottom) scrollMessages();
  }

  async function refresh() {
    timer = null;
    if (refreshing) { schedule(); return; }
    refreshing = true;
    const ids = Array.from(pending);
    pending.clear();
    try {
      const response = await fetch(location.href, { credentials: 'same-origin', headers: { 'X-Nexus-Live': '1' } });
      if (response.redirected && new URL(response.url).pathname === '/login') { location.reload(); return; }
      if (!response.ok) return;
      const doc = new DOMParser().parseFromString(await response.text(), 'text/html');
      for (const id of ids) {
        const old = document.getElementById(id);
        const fresh = doc.getElementById(id);
        if (!old || !fresh || old.outerHTML === fresh.outerHTML) continue;
        // Nothing changes under the user's hands: a region being typed in waits.
        // (An open "Call for help" being used counts too.)
        if (old.contains(document.activeElement) && (document.activeElement.matches('input, textarea, select') || document.activeElement.closest('details[open]'))) {
          pending.add(id);
          continue;
        }
        const before = versions(old);
        if (id === 'messages') {
          mergeMessages(old, fresh, before);
          continue;
        }
        old.replaceWith(fresh);
        fresh.querySelectorAll('[data-activity-id], [data-message-id], [data-update-id], [data-notification-id], [data-handover-id], [data-andon-id]').forEach((el) => {
          const key = el.dataset.activityId || el.dataset.messageId || el.dataset.updateId || el.dataset.notificationId || el.dataset.handoverId || el.dataset.andonId;
          if (!before.has(key) || before.get(key) !== (el.dataset.version || '')) el.classList.add('flash-new');
        });
        wireBoard();
        relative();
      }
      if (pending.size) schedule();
    } catch (_) {
      ids.forEach((id) => pending.add(id));
      setTimeout(schedule, 2000);
    } finally {
      refreshing = false;
    }
  }

  if (topics.size && csrf) connect(Array.from(topics));

  function connect(list) {
    const bar = document.getElementById('live-status');
    let source = null;
    let lastId = null;
    let retry = 1000;
    const lost = () => { if (bar) { bar.hidden = false; bar.dataset.state = 'reconnecting'; } };
    const live = () => { if (bar) { bar.hidden = true; bar.dataset.state = 'live'; } };
    const open = () => {
      let url = '/api/events/?topics=' + encodeURIComponent(list.join(','));
      // The browser resends Last-Event-ID on its own reconnects; a stream we reopen ourselves
      // carries it in the URL, so the server replays what was missed either way.
      if (lastId) url += '&last_event_id=' + encodeURIComponent(lastId);
      source = new EventSource(url);
      source.onopen = () => { live(); retry = 1000; };
      source.onmessage = (event) => {
        if (event.lastEventId) lastId = event.lastEventId;
        let topic;
        try { topic = JSON.parse(event.data).topic; } catch (_) { return; }
        regions().forEach((r) => { if (topicsOf(r).includes(topic)) pending.add(r.id); });
        schedule();
      };
      source.addEventListener('reset', () => { regions().forEach((r) => pending.add(r.id)); schedule(); });
      source.onerror = () => {
        lost();
        if (source.readyState === EventSource.CLOSED) {
          source.close();
          setTimeout(reopen, retry);
          retry = Math.min(retry * 2, 30000);
        }
      };
    };
    const reopen = async () => {
      try {
        // A stream refused for good usually means the session ended: the page then goes to
        // sign-in (and back here after).
        const check = await fetch(location.href, { credentials: 'same-origin', method: 'HEAD' });
        if (check.redirected && new URL(check.url).pathname === '/login') { location.reload(); return; }
      } catch (_) { /* still offline: try the stream again below */ }
      open();
    };
    window.addEventListener('pagehide', () => source && source.close());
    open();
  }

  // ---- Board: drag a card to a column. The move goes through the card's own form (the same
  // service and transition rules); a refused move snaps back and the reason is shown.
  let dragged = null;
  function wireBoard() {
    document.querySelectorAll('.card[draggable="true"]').forEach((card) => {
      if (card.dataset.wired) return;
      card.dataset.wired = '1';
      card.addEventListener('dragstart', (e) => {
        dragged = card;
        card.classList.add('moving');
        e.dataTransfer.effectAllowed = 'move';
        e.dataTransfer.setData('text/plain', card.dataset.activityId);
      });
      card.addEventListener('dragend', () => { card.classList.remove('moving'); });
    });
    document.querySelectorAll('.board-column').forEach((column) => {
      if (column.dataset.wired) return;
      column.dataset.wired = '1';
      column.addEventListener('dragover', (e) => { e.preventDefault(); column.classList.add('drop-target'); });
      column.addEventListener('dragleave', () => column.classList.remove('drop-target'));
      column.addEventListener('drop', (e) => {
        e.preventDefault();
        column.classList.remove('drop-target');
        const card = dragged || document.querySelector('.card[data-activity-id="' + e.dataTransfer.getData('text/plain') + '"]');
        dragged = null;
        if (card && card.dataset.status !== column.dataset.status) move(card, column);
      });
    });
  }
  async function move(card, column) {
    const id = card.dataset.activityId;
    const body = new URLSearchParams();
    body.set('_csrf', csrf);
    body.set('status', column.dataset.status);
    try {
      const response = await fetch('/activities/' + id + '/status', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'X-Nexus-Fetch': '1', 'X-CSRF-Token': csrf, 'Content-Type': 'application/x-www-form-urlencoded' },
        body,
      });
      const text = await response.text();
      if (response.ok) {
        column.appendChild(card);
        card.dataset.status = column.dataset.status;
        say(text, false);
        pending.add('board');
        schedule();
      } else {
        card.classList.add('flash-new');
        say(text || 'The move was refused.', true);
      }
    } catch (_) {
      say('The move could not be sent; check the connection and try again.', true);
    }
  }
  wireBoard();
})();
