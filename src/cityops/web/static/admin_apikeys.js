/* API 密钥: the integrations' keys (never their secrets); for apikeys:write, issuing a key with
 * permissions within a scope (the key is shown once) and revoking one.
 * Data: GET and POST /api/v1/apikeys, DELETE /api/v1/apikeys/{id}.
 */
(function () {
  "use strict";

  const root = document.getElementById("admin-apikeys");
  if (!root || !window.cityops || !window.cityopsAdmin) {
    return;
  }
  const { msg, api, el, when, problemText } = window.cityops;
  const admin = window.cityopsAdmin;
  const writer = root.dataset.write === "true";
  const body = document.querySelector("#keys-table tbody");
  const status = document.getElementById("apikeys-status");
  const columns = writer ? 8 : 7;

  function state(key) {
    if (key.revoked_at) {
      return msg("admin.apikeys.revoked_at", { at: when(key.revoked_at) });
    }
    if (key.expires_at && new Date(key.expires_at) <= new Date()) {
      return msg("admin.apikeys.expired");
    }
    return msg("admin.active");
  }

  function row(key) {
    const tr = el("tr", { "data-key": key.prefix, "data-revoked": String(Boolean(key.revoked_at)) });
    const permissions = el("td", { class: "code permissions-cell" }, key.permissions.join(" "));
    tr.append(
      el("td", { class: "code" }, key.prefix),
      el("td", {}, key.name),
      permissions,
      el("td", {}, admin.scopeLabel(key.scope)),
      el("td", {}, when(key.created_at) + " · " + key.created_by),
      el("td", {}, key.expires_at ? when(key.expires_at) : msg("admin.apikeys.never")),
      el("td", { class: key.revoked_at ? "inactive" : "" }, state(key)),
    );
    if (writer) {
      const actions = el("td", { class: "row-actions" });
      if (!key.revoked_at) {
        const revoke = el("button", {
          type: "button", class: "secondary small danger", "data-revoke": key.prefix,
          "aria-label": msg("admin.apikeys.revoke_one", { name: key.name, prefix: key.prefix }),
        }, msg("admin.apikeys.revoke"));
        revoke.addEventListener("click", () => {
          if (admin.confirmed(revoke)) {
            revokeKey(key);
          }
        });
        actions.append(revoke);
      }
      tr.append(actions);
    }
    return tr;
  }

  async function load() {
    root.dataset.state = "loading";
    status.textContent = msg("ws.loading");
    try {
      const keys = await api("/api/v1/apikeys");
      keys.sort((a, b) => b.id - a.id);
      body.replaceChildren(...keys.map(row));
      if (!keys.length) {
        admin.emptyRow(body, columns, msg("admin.apikeys.empty"));
      }
      status.textContent = msg("admin.apikeys.count", { count: keys.length });
      root.dataset.state = "ready";
    } catch (error) {
      status.textContent = problemText(error);
      root.dataset.state = "failed";
    }
  }

  async function revokeKey(key) {
    try {
      await api("/api/v1/apikeys/" + key.id, { method: "DELETE" });
      await load();
      status.textContent = msg("admin.apikeys.revoked", { name: key.name, prefix: key.prefix });
    } catch (error) {
      status.textContent = problemText(error);
    }
  }

  function wireCreate() {
    const form = document.getElementById("key-form");
    const errors = document.getElementById("key-error");
    const created = document.getElementById("key-created");
    admin.wireScope(form);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      admin.clearErrors(form);
      errors.textContent = "";
      created.replaceChildren();
      const expires = form.elements.expires_at.value;
      const payload = {
        name: form.elements.name.value.trim(),
        permissions: [...form.querySelectorAll("input[name=permissions]:checked")]
          .map((box) => box.value),
        scope: admin.scopeValue(form),
        // The end of the chosen day, in the browser's time zone.
        expires_at: expires ? new Date(expires + "T23:59:59").toISOString() : null,
      };
      try {
        const issued = await api("/api/v1/apikeys", { method: "POST", json: payload });
        form.reset();
        form.querySelector("[data-scope-kind]").dispatchEvent(new Event("change"));
        admin.showSecret(created, msg("admin.apikeys.created",
          { name: issued.name, prefix: issued.prefix }), issued.key);
        await load();
      } catch (error) {
        admin.showErrors(form, error, errors);
      }
    });
  }

  if (writer) {
    wireCreate();
  }
  load();
})();
