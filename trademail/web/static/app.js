// TradeMail web inbox: small progressive enhancements. Every page works without this file.
// - local times, focus on form errors, drafts kept while typing
// - live inbox updates over server-sent events
// - a warning a minute before the idle sign-out, with "stay signed in"
"use strict";

(function () {
  const body = document.body;
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : "";

  // ---------------------------------------------------------------- local times
  function localTimes(root) {
    const now = new Date();
    const time = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
    const day = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
    const full = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", year: "numeric" });
    const long = new Intl.DateTimeFormat(undefined, {
      weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
    });
    // Every time shows in the reader's own zone; the tooltip names the zone.
    const zoned = new Intl.DateTimeFormat(undefined, {
      weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
      timeZoneName: "long",
    });
    root.querySelectorAll("time[data-local]").forEach(function (el) {
      const when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      el.title = zoned.format(when);
      if (el.dataset.local === "long") {
        el.textContent = long.format(when);
      } else if (when.toDateString() === now.toDateString()) {
        el.textContent = time.format(when);
      } else if (when.getFullYear() === now.getFullYear()) {
        el.textContent = day.format(when);
      } else {
        el.textContent = full.format(when);
      }
    });
  }
  localTimes(document);

  // ---------------------------------------------------------------- forms
  const summary = document.querySelector("[data-focus]");
  if (summary) summary.focus();

  document.querySelectorAll("[data-select-on-focus]").forEach(function (el) {
    el.addEventListener("focus", function () { el.select(); });
  });

  // What is typed is also kept in this tab's sessionStorage, so a timed-out session or a
  // lost connection does not cost it; "Save draft" keeps it on the server.
  if (body.dataset.notice === "sent" || body.dataset.notice === "draft-saved") {
    Object.keys(sessionStorage).forEach(function (k) {
      if (k.indexOf("tm-draft:") === 0) sessionStorage.removeItem(k);
    });
  }
  document.querySelectorAll("form[data-draft]").forEach(function (form) {
    const key = "tm-draft:" + form.dataset.draft;
    const fields = Array.from(form.querySelectorAll("textarea[name], input[name=to], input[name=subject]"))
      .filter(function (el) { return el.type !== "hidden"; });
    let saved = {};
    try { saved = JSON.parse(sessionStorage.getItem(key) || "{}"); } catch (e) { saved = {}; }
    fields.forEach(function (el) {
      if (saved[el.name] && el.value === el.defaultValue) el.value = saved[el.name];
      el.addEventListener("input", function () {
        const draft = {};
        fields.forEach(function (f) { draft[f.name] = f.value; });
        sessionStorage.setItem(key, JSON.stringify(draft));
      });
    });
  });

  if (!csrf) return; // signed out: nothing live to do

  // ---------------------------------------------------------------- unread count and live inbox
  const live = document.getElementById("live-status");
  const toast = document.getElementById("toast");
  const baseTitle = document.title.replace(/^(.*?)( \(\d+\))?( · TradeMail)$/, "$1$3");

  function showUnread(n) {
    document.querySelectorAll("[data-unread]").forEach(function (el) { el.textContent = n; });
    const badge = document.getElementById("unread-count");
    if (badge) badge.hidden = !n;
    document.title = n ? baseTitle.replace(" · TradeMail", " (" + n + ") · TradeMail") : baseTitle;
  }

  async function refreshList() {
    const list = document.getElementById("message-list");
    const known = new Set(Array.from(list.querySelectorAll("a.row-link")).map(function (a) { return a.getAttribute("href"); }));
    // Marked as a refresh: new mail arriving must not keep an unattended session alive.
    const response = await fetch(location.href, {
      credentials: "same-origin", headers: { Accept: "text/html", "X-TradeMail-Refresh": "1" },
    });
    if (!response.ok || response.redirected) return;
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = doc.getElementById("message-list");
    const panel = document.querySelector("[data-live-list]");
    const freshPanel = doc.querySelector("[data-live-list]");
    if (!fresh || !panel || !freshPanel) return;
    const names = [];
    fresh.querySelectorAll("li.row").forEach(function (row) {
      const link = row.querySelector("a.row-link");
      if (link && !known.has(link.getAttribute("href"))) {
        row.classList.add("fresh");
        const who = row.querySelector(".who");
        names.push(who ? who.textContent.trim() : "someone");
      }
    });
    // Conversations picked before the refresh stay picked after it.
    const picked = new Set(Array.from(panel.querySelectorAll("input.pick:checked")).map(function (box) { return box.value; }));
    freshPanel.querySelectorAll("input.pick").forEach(function (box) { box.checked = picked.has(box.value); });
    panel.replaceWith(freshPanel);
    localTimes(freshPanel);
    if (names.length) live.textContent = "New message from " + names.join(", ");
  }

  function connect() {
    if (!window.EventSource) return;
    const source = new EventSource("/events");
    source.addEventListener("mailbox", function (event) {
      let data = {};
      try { data = JSON.parse(event.data); } catch (e) { data = {}; }
      if (typeof data.unread === "number") showUnread(data.unread);
      if (document.querySelector("[data-live-list]")) {
        refreshList().catch(function () {});
      } else if (toast) {
        toast.querySelector("[data-toast-text]").textContent = "New message arrived.";
        toast.hidden = false;
        setTimeout(function () { toast.hidden = true; }, 8000);
      }
    });
    source.addEventListener("signed-out", function () { source.close(); });
  }
  connect();

  // ---------------------------------------------------------------- timed sign-out warning
  const dialog = document.getElementById("idle-dialog");
  const WARN_SECONDS = 60;
  let endsAt = Date.now() + Number(body.dataset.endsIn || 0) * 1000;
  let extendable = body.dataset.extendable === "true";
  let warnTimer = null;
  let tickTimer = null;

  function share() {
    try { localStorage.setItem("tm-session-ends", JSON.stringify({ endsAt: endsAt, extendable: extendable })); } catch (e) { /* private mode */ }
  }

  function schedule() {
    clearTimeout(warnTimer);
    clearInterval(tickTimer);
    if (dialog.open) dialog.close();
    const wait = Math.max(0, endsAt - Date.now() - WARN_SECONDS * 1000);
    warnTimer = setTimeout(warn, wait);
  }

  function warn() {
    const seconds = dialog.querySelector("[data-idle-seconds]");
    const stay = dialog.querySelector("[data-stay]");
    stay.hidden = !extendable;
    if (!extendable) {
      dialog.querySelector("[data-idle-text]").firstChild.textContent =
        "Your session reaches its time limit, and you will be signed out in ";
    }
    function tick() {
      const left = Math.max(0, Math.round((endsAt - Date.now()) / 1000));
      seconds.textContent = left;
      if (left <= 0) {
        clearInterval(tickTimer);
        location.reload(); // the server sends us to sign-in, and back here afterwards
      }
    }
    tick();
    tickTimer = setInterval(tick, 1000);
    if (typeof dialog.showModal === "function") dialog.showModal(); else dialog.setAttribute("open", "");
    (extendable ? stay : dialog.querySelector("button[type=submit]")).focus();
  }

  dialog.querySelector("[data-stay]").addEventListener("click", async function () {
    const response = await fetch("/session/keepalive", {
      method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf },
    });
    if (!response.ok) { location.reload(); return; }
    const data = await response.json();
    endsAt = Date.now() + data.ends_in * 1000;
    extendable = data.extendable;
    share();
    schedule();
  });
  dialog.addEventListener("cancel", function (event) { event.preventDefault(); });

  // Another tab of this browser was used: the session lives on for it too.
  window.addEventListener("storage", function (event) {
    if (event.key !== "tm-session-ends" || !event.newValue) return;
    try {
      const data = JSON.parse(event.newValue);
      if (data.endsAt > endsAt) { endsAt = data.endsAt; extendable = data.extendable; schedule(); }
    } catch (e) { /* ignore */ }
  });
  share();
  schedule();
})();

// ---------------------------------------------------------------- passkeys (WebAuthn)
// A button with data-passkey="create" or "get" asks the browser for a passkey with the
// options its data-options address gives (a POST carrying the form's CSRF token), puts the
// answer in the form's data-into field and sends the form. Without this script, or a
// browser without WebAuthn, the code field beside it still works.
(function () {
  const b64 = {
    decode: function (text) {
      const plain = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
      return Uint8Array.from(plain, function (c) { return c.charCodeAt(0); }).buffer;
    },
    encode: function (buffer) {
      let text = "";
      new Uint8Array(buffer).forEach(function (byte) { text += String.fromCharCode(byte); });
      return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    },
  };
  function publicKey(options) {
    options.challenge = b64.decode(options.challenge);
    if (options.user) options.user.id = b64.decode(options.user.id);
    ["excludeCredentials", "allowCredentials"].forEach(function (list) {
      (options[list] || []).forEach(function (cred) { cred.id = b64.decode(cred.id); });
    });
    return options;
  }
  function answer(credential) {
    const r = credential.response;
    const out = { id: credential.id, rawId: b64.encode(credential.rawId), type: credential.type,
                  clientExtensionResults: credential.getClientExtensionResults(),
                  response: { clientDataJSON: b64.encode(r.clientDataJSON) } };
    if (r.attestationObject) {
      out.response.attestationObject = b64.encode(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = b64.encode(r.authenticatorData);
      out.response.signature = b64.encode(r.signature);
      if (r.userHandle) out.response.userHandle = b64.encode(r.userHandle);
    }
    if (credential.authenticatorAttachment) out.authenticatorAttachment = credential.authenticatorAttachment;
    return JSON.stringify(out);
  }
  document.querySelectorAll("button[data-passkey]").forEach(function (button) {
    if (!window.PublicKeyCredential) { button.hidden = true; return; }
    button.hidden = false;
    button.addEventListener("click", async function () {
      const form = button.form;
      const status = form.querySelector("[data-passkey-status]");
      const token = form.querySelector('input[name="csrf"]');
      try {
        const response = await fetch(button.dataset.options, {
          method: "POST", credentials: "same-origin",
          headers: { "X-CSRF-Token": token ? token.value : "" },
        });
        if (!response.ok) throw new Error("the server refused (" + response.status + ")");
        const options = publicKey(await response.json());
        const credential = button.dataset.passkey === "create"
          ? await navigator.credentials.create({ publicKey: options })
          : await navigator.credentials.get({ publicKey: options });
        form.querySelector('input[name="' + button.dataset.into + '"]').value = answer(credential);
        form.submit();
      } catch (error) {
        if (status) status.textContent = "The passkey did not answer: " + error.message;
      }
    });
  });
})();
