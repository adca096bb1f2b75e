// Keywarden console: dialogs, menus, copy buttons, and the forms that call
// the JSON API with the session cookie and the page's CSRF token. No
// framework and no build step; the Content-Security-Policy forbids inline
// script, so everything is wired here by data attributes.
"use strict";

(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  let opener = null; // the element that opened the current dialog

  function openDialog(dialog, from) {
    opener = from || document.activeElement;
    clearErrors(dialog);
    // A create dialog starts empty each time it is opened.
    dialog.querySelectorAll('form[data-kind^="create"]').forEach((f) => {
      f.reset();
      syncScopeMode(f);
      syncExpiry(f);
    });
    dialog.showModal();
    const first = dialog.querySelector("input:not([type=hidden]):not([disabled]):not([readonly]), select, textarea, button:not([data-close])");
    (first || dialog).focus();
  }

  // Focus returns to whatever opened the dialog, so keyboard users keep
  // their place.
  document.addEventListener("close", (e) => {
    if (!(e.target instanceof HTMLDialogElement)) return;
    if (e.target.id === "save-key") {
      // However it was closed, forget the key and show the updated table.
      e.target.querySelectorAll("input, textarea").forEach((f) => { f.value = ""; });
      window.location.reload();
      return;
    }
    if (opener && document.contains(opener)) opener.focus();
  }, true);

  document.addEventListener("click", (e) => {
    const target = e.target instanceof Element ? e.target : null;
    if (!target) return;

    const open = target.closest("[data-open]");
    if (open) {
      const dialog = document.getElementById(open.dataset.open);
      if (dialog) openDialog(dialog, open);
      return;
    }
    const close = target.closest("[data-close]");
    if (close) {
      close.closest("dialog")?.close();
      return;
    }
    const del = target.closest("[data-delete-path]");
    if (del) {
      const dialog = document.getElementById("delete-key");
      dialog.querySelector("form").dataset.api = del.dataset.deletePath;
      dialog.querySelector("[data-delete-name]").textContent = del.dataset.deleteName;
      del.closest("details")?.removeAttribute("open");
      openDialog(dialog, del.closest("details")?.querySelector("summary") || del);
      return;
    }
    const copy = target.closest("[data-copy]");
    if (copy) {
      copyField(copy);
      return;
    }
    if (target.closest("[data-done-reload]")) {
      target.closest("dialog")?.close(); // the close handler reloads
      return;
    }
    // A click outside an open "⋯" menu closes it.
    document.querySelectorAll("details.menu[open]").forEach((menu) => {
      if (!menu.contains(target)) menu.removeAttribute("open");
    });
  });

  // Escape closes an open "⋯" menu (dialogs close on Escape by themselves).
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    const menu = document.activeElement?.closest?.("details.menu[open]");
    if (menu) {
      menu.removeAttribute("open");
      menu.querySelector("summary").focus();
    }
  });

  async function copyField(button) {
    const field = document.getElementById(button.dataset.copy);
    const status = button.closest("dialog, .field, section")?.querySelector(".copy-status");
    const text = field.value ?? field.textContent;
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Clipboard API unavailable (e.g. plain HTTP): fall back to a selection.
      field.select?.();
      document.execCommand("copy");
    }
    button.textContent = "Copied";
    if (status) status.textContent = "Copied to the clipboard.";
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  }

  // Scope checklist: disabled while "All" is chosen.
  function syncScopeMode(form) {
    const mode = form.querySelector('input[name="scope-mode"]:checked');
    const list = form.querySelector("[data-scope-list]");
    if (!mode || !list) return;
    const all = mode.value === "all";
    list.classList.toggle("is-disabled", all);
    list.querySelectorAll("input").forEach((i) => { i.disabled = all; });
  }

  function syncExpiry(form) {
    const choice = form.querySelector('input[name="expiry"]:checked');
    const date = form.querySelector('input[name="exp-date"]');
    if (!date) return;
    date.disabled = !choice || choice.value !== "date";
  }

  document.addEventListener("change", (e) => {
    const form = e.target.closest?.("form");
    if (!form) return;
    if (e.target.name === "scope-mode") syncScopeMode(form);
    if (e.target.name === "expiry") syncExpiry(form);
  });
  document.querySelectorAll('form[data-kind="create-key"]').forEach((f) => { syncScopeMode(f); syncExpiry(f); });

  // The JSON body of each kind of API form.
  function body(form) {
    switch (form.dataset.kind) {
      case "create-key": {
        const mode = form.querySelector('input[name="scope-mode"]:checked')?.value;
        const scopes = mode === "all" ? ["all"]
          : [...form.querySelectorAll('input[name="scopes"]:checked')].map((i) => i.value);
        return { name: form.elements.name.value, scopes, exp: expiry(form) };
      }
      case "create-process": {
        const b = { name: form.elements.name.value };
        const type = form.elements.processTypeId.value.trim();
        if (type) b.processTypeId = type;
        return b;
      }
      case "rename-process":
        return { name: form.elements.name.value };
    }
    return null;
  }

  // expiry turns the chosen preset or date into an RFC 3339 time. A date
  // means the start of that day, UTC, which keeps it within the policy's
  // maximum.
  function expiry(form) {
    const choice = form.querySelector('input[name="expiry"]:checked');
    if (!choice) return "";
    if (choice.value === "date") {
      const d = form.elements["exp-date"].value;
      return d ? d + "T00:00:00Z" : "";
    }
    const t = new Date(Date.now() + Number(choice.value) * 86400 * 1000);
    return t.toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  function clearErrors(root) {
    root.querySelectorAll("[data-error-for]").forEach((el) => { el.textContent = ""; });
    root.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    const box = root.querySelector("[data-form-error]");
    if (box) { box.hidden = true; box.textContent = ""; }
  }

  // showProblem puts each field error next to its field ("body: scopes[1]"
  // → the scopes field) and the summary at the top, keeping what was typed.
  function showProblem(form, problem) {
    clearErrors(form);
    let placed = false;
    for (const err of problem.errors || []) {
      const name = (err.location || "").replace(/^body: /, "").replace(/\[\d+\]$/, "");
      const slot = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
      if (slot) {
        slot.textContent = slot.textContent ? slot.textContent + " " + err.message : err.message;
        form.querySelector(`[name="${CSS.escape(name)}"]`)?.setAttribute("aria-invalid", "true");
        placed = true;
      }
    }
    const box = form.querySelector("[data-form-error]");
    if (box && (!placed || problem.status !== 400)) {
      box.textContent = problem.detail || "Something went wrong.";
      box.hidden = false;
    }
    (form.querySelector('[aria-invalid="true"]') || box)?.focus?.();
  }

  document.addEventListener("submit", async (e) => {
    const form = e.target;
    if (!form.dataset.api) return;
    e.preventDefault();
    const submit = form.querySelector('button[type="submit"]');
    submit.disabled = true;
    try {
      const payload = body(form);
      const res = await fetch(form.dataset.api, {
        method: form.dataset.method,
        headers: Object.assign({ "X-CSRF-Token": csrf }, payload ? { "Content-Type": "application/json" } : {}),
        body: payload ? JSON.stringify(payload) : undefined,
        credentials: "same-origin",
      });
      if (!res.ok) {
        let problem = { detail: `The request failed (${res.status}).` };
        try { problem = await res.json(); } catch { /* not JSON */ }
        showProblem(form, problem);
        return;
      }
      if (form.dataset.kind === "create-key") {
        showKey(form, await res.json());
        return;
      }
      window.location.assign(form.dataset.done || window.location.pathname);
    } catch (err) {
      showProblem(form, { detail: "Keywarden could not be reached. Check your connection and try again." });
    } finally {
      submit.disabled = false;
    }
  });

  // showKey replaces the create dialog with the one-time "save your key"
  // dialog. The key lives only in this page's memory and its fields.
  function showKey(form, key) {
    form.closest("dialog").close();
    form.reset();
    const dialog = document.getElementById("save-key");
    const [user, pass] = [key.key.slice(0, key.key.indexOf(":")), key.key.slice(key.key.indexOf(":") + 1)];
    dialog.querySelector("#saved-key").value = key.key;
    dialog.querySelector("#saved-user").value = user;
    dialog.querySelector("#saved-pass").value = pass;
    const base = dialog.dataset.baseUrl;
    dialog.querySelector("#saved-curl").value = `curl -u "${key.key}" ${base}/api/v1/me`;
    opener = document.querySelector('[data-open="create-key"]');
    dialog.showModal();
    dialog.querySelector("#saved-key").focus();
    dialog.querySelector("#saved-key").select();
  }
})();
