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
      filterScopes(f);
      showPresetDates(f);
    });
    // So does a confirmation by typed name, its button disabled.
    dialog.querySelectorAll("form [data-confirm-text]").forEach((i) => { i.value = ""; syncConfirm(i); });
    dialog.showModal();
    dialog.scrollTop = 0;
    // A confirmation starts on its safe choice (autofocus: "Cancel"), so
    // that Enter does not delete; other dialogs on their first field.
    const first = dialog.querySelector("[autofocus]") ||
      dialog.querySelector("input:not([type=hidden]):not([disabled]):not([readonly]), select, textarea, button:not([data-close])");
    (first || dialog).focus();
  }

  // flash shows a one-line confirmation at the top of the page; after a
  // reload, from what the previous page left in sessionStorage.
  const flashKey = "keywarden.flash";
  function flash(message) {
    const slot = document.querySelector("[data-flash]");
    if (!slot || !message) return;
    const box = document.createElement("div");
    box.className = "alert alert-success";
    box.dataset.testid = "flash";
    box.textContent = message;
    slot.replaceChildren(box);
  }
  try {
    const pending = sessionStorage.getItem(flashKey);
    if (pending) { sessionStorage.removeItem(flashKey); flash(pending); }
  } catch { /* storage disabled: no confirmation, nothing else lost */ }

  // After a rejected form post, focus goes to the first field in error.
  document.querySelector('main form [aria-invalid="true"]')?.focus();

  // The "save your key" and "save the signing secret" dialogs hold the
  // only copy of a secret: closing one by Escape, its close button or a
  // click outside asks first.
  function askClose(dialog) {
    const panel = dialog.querySelector("[data-confirm-panel]");
    if (!panel) { dialog.close(); return; }
    panel.hidden = false;
    panel.scrollIntoView({ block: "nearest" });
    panel.querySelector("[data-confirm-stay]").focus();
  }
  function hideAsk(dialog) {
    const panel = dialog.querySelector("[data-confirm-panel]");
    if (panel) panel.hidden = true;
  }
  document.addEventListener("cancel", (e) => {
    if (e.target instanceof HTMLDialogElement && e.target.hasAttribute("data-confirm-close")) {
      e.preventDefault();
      askClose(e.target);
    }
  }, true);
  document.addEventListener("keydown", (e) => {
    const dialog = e.key === "Escape" && document.activeElement?.closest?.("dialog[data-confirm-close][open]");
    if (dialog) {
      e.preventDefault();
      askClose(dialog);
    }
  }, true);

  // Focus returns to whatever opened the dialog, so keyboard users keep
  // their place.
  document.addEventListener("close", (e) => {
    if (!(e.target instanceof HTMLDialogElement)) return;
    if (e.target.hasAttribute("data-confirm-close")) {
      // However it was closed, forget the secret and show the updated
      // table: at its first page after a creation, where the new key is
      // (newest first); on the same page after a rotation, which moves none.
      hideAsk(e.target);
      e.target.querySelectorAll("input, textarea").forEach((f) => { f.value = ""; });
      window.location.assign(window.location.pathname + (e.target.dataset.stay ? window.location.search : ""));
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
    if (target.closest("[data-ask-close]")) {
      askClose(target.closest("dialog"));
      return;
    }
    if (target.closest("[data-confirm-stay]")) {
      const dialog = target.closest("dialog");
      hideAsk(dialog);
      dialog.querySelector("input")?.focus();
      return;
    }
    if (target.closest("[data-confirm-leave]")) {
      target.closest("dialog")?.close(); // the close handler reloads
      return;
    }
    // A click on the backdrop lands on the dialog itself, outside its box.
    if (target instanceof HTMLDialogElement && target.open && target.hasAttribute("data-confirm-close")) {
      const box = target.getBoundingClientRect();
      if (e.clientX < box.left || e.clientX > box.right || e.clientY < box.top || e.clientY > box.bottom) {
        askClose(target);
        return;
      }
    }
    const rot = target.closest("[data-rotate-path]");
    if (rot) {
      const dialog = document.getElementById("rotate-key");
      dialog.querySelector("form").dataset.api = rot.dataset.rotatePath;
      dialog.querySelector("[data-rotate-name]").textContent = rot.dataset.rotateName;
      dialog.querySelector("[data-rotate-user]").textContent = rot.dataset.rotateUser;
      rot.closest("details")?.removeAttribute("open");
      openDialog(dialog, rot.closest("details")?.querySelector("summary") || rot);
      return;
    }
    const del = target.closest("[data-delete-path]");
    if (del) {
      const dialog = document.getElementById("delete-key");
      const form = dialog.querySelector("form");
      form.dataset.api = del.dataset.deletePath;
      form.dataset.flash = `API key “${del.dataset.deleteName}” (${del.dataset.deleteUser}) was deleted.`;
      // From a key's own page, back to its table once it is gone.
      if (del.dataset.deleteDone) form.dataset.done = del.dataset.deleteDone; else delete form.dataset.done;
      dialog.querySelector("[data-delete-name]").textContent = del.dataset.deleteName;
      dialog.querySelector("[data-delete-user]").textContent = del.dataset.deleteUser;
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

  // copyField copies a field and says so in the nearest status region
  // (role="status"), so that screen readers announce it for every field.
  async function copyField(button) {
    const field = document.getElementById(button.dataset.copy);
    let scope = button.parentElement;
    while (scope && !scope.querySelector("[data-copy-status], .copy-status")) scope = scope.parentElement;
    const status = scope?.querySelector("[data-copy-status], .copy-status");
    const label = field.labels?.[0]?.textContent.trim() || "Text";
    const text = field.value ?? field.textContent;
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Clipboard API unavailable (e.g. plain HTTP): fall back to a selection.
      field.select?.();
      document.execCommand("copy");
    }
    button.textContent = "Copied";
    if (status) {
      // Emptied first, so that copying the same field twice is announced twice.
      status.textContent = "";
      setTimeout(() => { status.textContent = `Copied: ${label} is on the clipboard.`; }, 50);
    }
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  }

  // Scope checklist: nothing is chosen until the person chooses "All" or
  // ticks a scope (which chooses "Choose scopes"); disabled while "All" is
  // chosen. The count says what the key will hold.
  function syncScopeMode(form) {
    const mode = form.querySelector('input[name="scope-mode"]:checked');
    const list = form.querySelector("[data-scope-list]");
    if (!list) return;
    const all = mode?.value === "all";
    list.classList.toggle("is-disabled", all);
    list.querySelectorAll("input").forEach((i) => { i.disabled = all; });
    const filter = form.querySelector("[data-scope-filter]");
    if (filter) filter.disabled = all;
    countScopes(form);
  }

  function countScopes(form) {
    const out = form.querySelector("[data-scope-count]");
    if (!out) return;
    const total = Number(out.dataset.total);
    const mode = form.querySelector('input[name="scope-mode"]:checked')?.value;
    const n = form.querySelectorAll('input[name="scopes"]:checked').length;
    out.textContent = mode === "all" ? `All ${total} scopes, including any added later`
      : `${n} of ${total} scope${total === 1 ? "" : "s"} chosen`;
  }

  // filterScopes shows only the scopes whose name or description contains
  // the filter's words; chosen scopes stay chosen while hidden.
  function filterScopes(form) {
    const input = form.querySelector("[data-scope-filter]");
    if (!input) return;
    const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    form.querySelectorAll(".scope-group").forEach((group) => {
      let any = false;
      group.querySelectorAll("label.choice").forEach((label) => {
        const text = label.textContent.toLowerCase();
        const match = words.every((w) => text.includes(w));
        label.hidden = !match;
        any = any || match;
        if (match) shown++;
      });
      group.hidden = !any;
    });
    const none = form.querySelector("[data-scope-none]");
    if (none) none.hidden = shown > 0;
  }

  // showPresetDates puts the date each preset gives beside it, as of now.
  function showPresetDates(form) {
    form.querySelectorAll("[data-preset-date]").forEach((t) => {
      const d = new Date(Date.now() + Number(t.dataset.presetDate) * 86400 * 1000).toISOString().slice(0, 10);
      t.textContent = d;
      t.dateTime = d;
    });
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
    if (e.target.name === "scopes") {
      const chosen = form.querySelector('input[name="scope-mode"][value="chosen"]');
      if (chosen && !chosen.checked) { chosen.checked = true; syncScopeMode(form); }
      countScopes(form);
    }
    if (e.target.name === "expiry") syncExpiry(form);
  });
  // A form that destroys something named keeps its submit button disabled
  // until that name (data-confirm-text) is typed exactly; the API checks
  // the same name again.
  function syncConfirm(input) {
    const submit = input.form?.querySelector('button[type="submit"]');
    if (submit) submit.disabled = input.value !== input.dataset.confirmText;
  }
  document.addEventListener("input", (e) => {
    if (e.target.matches?.("[data-confirm-text]")) syncConfirm(e.target);
  });
  document.addEventListener("input", (e) => {
    if (e.target.matches?.("[data-scope-filter]")) filterScopes(e.target.form);
  });
  // Enter in the filter box filters; it must not submit the dialog.
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && e.target.matches?.("[data-scope-filter]")) e.preventDefault();
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
      case "edit-key": {
        const limit = form.elements.limit.value.trim(), per = form.elements.windowSeconds.value.trim();
        return {
          name: form.elements.name.value,
          allowedIps: form.elements.allowedIps.value.split(/[\s,]+/).filter(Boolean),
          rateLimit: limit === "" && per === "" ? null : { limit: Number(limit), windowSeconds: Number(per) },
        };
      }
      case "rotate-key":
        return { gracePeriodSeconds: Number(form.querySelector('input[name="grace"]:checked')?.value ?? -1) };
      case "revoke-all":
        return { confirm: form.elements.confirm.value };
      case "rename-process":
        return { name: form.elements.name.value };
      case "create-webhook":
        return { url: form.elements.url.value, events: checked(form, "events"), description: form.elements.description.value };
      case "edit-webhook":
        return { url: form.elements.url.value, events: checked(form, "events"), description: form.elements.description.value,
          enabled: form.elements.enabled.checked };
      case "roll-webhook-secret":
        return { rollSecret: { overlapSeconds: Number(form.querySelector('input[name="overlap"]:checked')?.value ?? -1) } };
    }
    return null;
  }

  function checked(form, name) {
    return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
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

  // inWords rewords the API's messages that speak in its own terms ("all",
  // "exp", RFC 3339) for people filling in the form.
  function inWords(form, field, err) {
    const maxDays = form.dataset.maxDays;
    const maxDate = form.querySelector('input[name="exp-date"]')?.max;
    switch (`${field} ${err.type}`) {
      case "scopes required": return "Choose All, or choose the scopes the key needs.";
      case "scopes invalid_scope": return "Choose either All or single scopes, not both.";
      case "exp required": return "Choose when the key expires: a number of days or a date.";
      case "exp invalid": return "Enter the expiry date as a full date.";
      case "exp in_past": return "Choose an expiry date after today.";
      case "exp beyond_policy": return `Choose an expiry date no later than ${maxDate}: keys live at most ${maxDays} days here.`;
    }
    return err.message;
  }

  // Where focus goes for a field's error: a radio group's first choice.
  function focusTarget(form, field) {
    if (field === "scopes") return form.querySelector('input[name="scope-mode"]:not([disabled])');
    if (field === "exp") return form.querySelector('input[name="expiry"]:checked, input[name="expiry"]');
    return form.querySelector(`[name="${CSS.escape(field)}"]`);
  }

  // showProblem puts each field error next to its field ("body: scopes[1]"
  // → the scopes field) and the summary at the top, keeping what was typed;
  // focus goes to the first field in error.
  function showProblem(form, problem) {
    clearErrors(form);
    let placed = false;
    for (const err of problem.errors || []) {
      const name = (err.location || "").replace(/^body: /, "").replace(/\[\d+\]$/, "");
      const slot = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
      if (slot) {
        const msg = inWords(form, name, err);
        if (!slot.textContent.includes(msg)) slot.textContent = slot.textContent ? slot.textContent + " " + msg : msg;
        const input = form.querySelector(`[name="${CSS.escape(name)}"]:not([type=checkbox]):not([type=radio])`);
        input?.setAttribute("aria-invalid", "true");
        placed = true;
      }
    }
    const box = form.querySelector("[data-form-error]");
    if (box && (!placed || problem.status !== 400)) {
      box.textContent = problem.detail || "Something went wrong.";
      box.hidden = false;
    }
    const firstSlot = [...form.querySelectorAll("[data-error-for]")].find((s) => s.textContent);
    const target = firstSlot ? focusTarget(form, firstSlot.dataset.errorFor) : null;
    (target || (box && !box.hidden ? box : null))?.focus?.();
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
      if (form.dataset.kind === "revoke-all") {
        const n = (await res.json()).revoked;
        form.dataset.flash = n === 1 ? "1 API key was revoked." : `${n} API keys were revoked.`;
      }
      if (form.dataset.kind === "create-key" || form.dataset.kind === "rotate-key") {
        showKey(form, await res.json());
        return;
      }
      if (form.dataset.kind === "create-webhook" || form.dataset.kind === "roll-webhook-secret") {
        showSecret(form, await res.json());
        return;
      }
      if (form.dataset.flash) {
        try { sessionStorage.setItem(flashKey, form.dataset.flash); } catch { /* no confirmation */ }
      }
      // Stay on the same page of the table (the server shows the last one
      // if this was the only row of the last page).
      window.location.assign(form.dataset.done || window.location.pathname + window.location.search);
    } catch (err) {
      showProblem(form, { detail: "Keywarden could not be reached. Check your connection and try again." });
    } finally {
      submit.disabled = false;
      form.querySelectorAll("[data-confirm-text]").forEach((i) => syncConfirm(i));
    }
  });

  // showOnce replaces the form's dialog by a dialog that shows a secret
  // this once (data-confirm-close: closing it asks first, then reloads the
  // page, on its same page of the table if stay). The secret lives only in
  // this page's memory and the dialog's fields, which fill sets.
  function showOnce(form, id, stay, title, note, fill) {
    form.closest("dialog")?.close();
    form.reset();
    const dialog = document.getElementById(id);
    if (stay) dialog.dataset.stay = "1"; else delete dialog.dataset.stay;
    dialog.querySelector("[data-save-title]").textContent = title;
    const slot = dialog.querySelector("[data-rotation-note]");
    slot.hidden = !note;
    slot.textContent = note;
    const field = fill(dialog);
    opener = document.querySelector(`[data-open="${form.closest("dialog")?.id}"]`) || opener;
    dialog.showModal();
    field.focus();
    field.select();
  }

  // untilNote says until when the secret a rotation replaced still works.
  function untilNote(until, what) {
    return until ? `The old secret keeps working until ${until.replace("T", " ").replace("Z", " UTC")}; then only this ${what} does.`
      : "The old secret no longer works.";
  }

  // showKey shows a new or rotated API key in the "save your key" dialog.
  function showKey(form, key) {
    const rotated = form.dataset.kind === "rotate-key";
    showOnce(form, "save-key", rotated, rotated ? "Save your new key" : "Save your key",
      rotated ? untilNote(key.previousSecretExpiresAt, "key") : "", (dialog) => {
        const [user, pass] = [key.key.slice(0, key.key.indexOf(":")), key.key.slice(key.key.indexOf(":") + 1)];
        dialog.querySelector("#saved-key").value = key.key;
        dialog.querySelector("#saved-user").value = user;
        dialog.querySelector("#saved-pass").value = pass;
        dialog.querySelector("#saved-curl").value = `curl -u "${key.key}" ${dialog.dataset.baseUrl}/api/v1/me`;
        return dialog.querySelector("#saved-key");
      });
  }

  // showSecret shows a webhook's new signing secret in the "save the
  // signing secret" dialog.
  function showSecret(form, hook) {
    const rolled = form.dataset.kind === "roll-webhook-secret";
    showOnce(form, "save-secret", rolled, rolled ? "Save the new signing secret" : "Save the signing secret",
      rolled ? untilNote(hook.previousSecretExpiresAt, "secret") : "", (dialog) => {
        dialog.querySelector("#saved-secret").value = hook.secret;
        return dialog.querySelector("#saved-secret");
      });
  }
})();
