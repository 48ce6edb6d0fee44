/* 用户管理: the users with their roles@scopes, department and state; for users:write, creating a
 * user (the password shown once), granting and revoking a role within a scope, disabling and
 * enabling. Data: /api/v1/users (GET, POST, PATCH /{name}, POST and DELETE /{name}/grants).
 */
(function () {
  "use strict";

  const root = document.getElementById("admin-users");
  if (!root || !window.cityops || !window.cityopsAdmin) {
    return;
  }
  const { msg, api, el, problemText } = window.cityops;
  const admin = window.cityopsAdmin;
  const writer = root.dataset.write === "true";
  const body = document.querySelector("#users-table tbody");
  const status = document.getElementById("users-status");
  const search = document.getElementById("users-search");
  const columns = writer ? 6 : 5;
  let users = [];
  let departmentNames = new Map();

  /* A password the API accepts: 16 random URL-safe characters, without the username. */
  function newPassword(username) {
    const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_";
    for (;;) {
      const bytes = new Uint8Array(16);
      window.crypto.getRandomValues(bytes);
      const text = [...bytes].map((b) => alphabet[b % alphabet.length]).join("");
      if (new Set(text).size >= 4 && !(username && text.toLowerCase()
        .includes(username.toLowerCase()))) {
        return text;
      }
    }
  }

  function grantItem(user, grant) {
    const item = el("li", { "data-grant": grant.role + "@" + grant.scope });
    item.append(
      el("span", { class: "role" }, msg("role." + grant.role)),
      el("span", { class: "scope" }, admin.scopeLabel(grant.scope)),
    );
    if (writer) {
      const revoke = el("button", {
        type: "button",
        class: "secondary small",
        "aria-label": msg("admin.grants.revoke_one", {
          role: msg("role." + grant.role), scope: admin.scopeLabel(grant.scope),
          user: user.username,
        }),
      }, msg("admin.grants.revoke"));
      revoke.addEventListener("click", () => {
        if (admin.confirmed(revoke)) {
          changeGrant(user.username, grant.role, grant.scope, "DELETE", null);
        }
      });
      item.append(revoke);
    }
    return item;
  }

  function row(user) {
    const tr = el("tr", { "data-user": user.username, "data-active": String(user.active) });
    const grants = el("ul", { class: "grant-list" });
    grants.append(...user.grants.map((g) => grantItem(user, g)));
    if (!user.grants.length) {
      grants.append(el("li", { class: "muted" }, msg("admin.none")));
    }
    const rolesCell = el("td");
    rolesCell.append(grants);
    const department = user.department_code
      ? (departmentNames.get(user.department_code) || "") + " (" + user.department_code + ")"
      : "–";
    tr.append(
      el("td", { class: "code" }, user.username),
      el("td", {}, user.display_name),
      el("td", {}, department),
      rolesCell,
      el("td", { class: user.active ? "" : "inactive" },
        user.active ? msg("admin.active") : msg("admin.inactive")),
    );
    if (writer) {
      const actions = el("td", { class: "row-actions" });
      const toggle = el("button", {
        type: "button",
        class: "secondary small",
        "data-toggle": user.username,
        "aria-label": msg(user.active ? "admin.users.disable_one" : "admin.users.enable_one",
          { user: user.username }),
      }, user.active ? msg("admin.users.disable") : msg("admin.users.enable"));
      toggle.addEventListener("click", () => {
        if (!user.active || admin.confirmed(toggle)) {
          setActive(user.username, !user.active);
        }
      });
      const grant = el("button", {
        type: "button",
        class: "secondary small",
        "aria-label": msg("admin.grants.for", { user: user.username }),
      }, msg("admin.grants.grant"));
      grant.addEventListener("click", () => {
        document.getElementById("grant-user").value = user.username;
        document.getElementById("grant-role").focus();
      });
      actions.append(grant, toggle);
      tr.append(actions);
    }
    return tr;
  }

  function render() {
    const needle = search.value.trim().toLowerCase();
    const shown = users.filter((u) => !needle ||
      u.username.toLowerCase().includes(needle) || u.display_name.toLowerCase().includes(needle));
    body.replaceChildren(...shown.map(row));
    if (!shown.length) {
      admin.emptyRow(body, columns, msg("admin.users.empty"));
    }
    const picker = document.getElementById("grant-user");
    if (picker) {
      const keep = picker.value;
      picker.replaceChildren(...users.map((u) =>
        el("option", { value: u.username }, u.username + " · " + u.display_name)));
      if (keep) {
        picker.value = keep;
      }
    }
  }

  async function load() {
    root.dataset.state = "loading";
    status.textContent = msg("ws.loading");
    try {
      const found = await admin.fillDepartments();
      departmentNames = new Map(found.map((d) => [d.code, d.name]));
      users = await api("/api/v1/users");
      render();
      status.textContent = msg("admin.users.count", { count: users.length });
      root.dataset.state = "ready";
    } catch (error) {
      status.textContent = problemText(error);
      root.dataset.state = "failed";
    }
  }

  async function setActive(username, active) {
    try {
      await api("/api/v1/users/" + encodeURIComponent(username), {
        method: "PATCH", json: { active },
      });
      await load();
      status.textContent = msg(active ? "admin.users.enabled" : "admin.users.disabled",
        { user: username });
    } catch (error) {
      status.textContent = problemText(error);
    }
  }

  async function changeGrant(username, role, scope, method, form) {
    const summary = form ? document.getElementById("grant-error") : status;
    if (form) {
      admin.clearErrors(form);
      summary.textContent = "";
    }
    try {
      await api("/api/v1/users/" + encodeURIComponent(username) + "/grants", {
        method, json: { role, scope },
      });
      await load();
      status.textContent = msg(method === "POST" ? "admin.grants.granted" : "admin.grants.revoked",
        { role: msg("role." + role), scope: admin.scopeLabel(scope), user: username });
    } catch (error) {
      if (form) {
        admin.showErrors(form, error, summary);
      } else {
        status.textContent = problemText(error);
      }
    }
  }

  function wireCreate() {
    const form = document.getElementById("user-form");
    const errors = document.getElementById("user-error");
    const created = document.getElementById("user-created");
    admin.wireScope(form);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      admin.clearErrors(form);
      errors.textContent = "";
      created.replaceChildren();
      const username = form.elements.username.value.trim();
      const typed = form.elements.password.value;
      const password = typed || newPassword(username);
      const role = form.elements.role.value;
      const payload = {
        username,
        password,
        display_name: form.elements.display_name.value.trim() || null,
        department_code: form.elements.department_code.value || null,
        grants: role ? [{ role, scope: admin.scopeValue(form) }] : [],
      };
      try {
        const user = await api("/api/v1/users", { method: "POST", json: payload });
        form.reset();
        form.querySelector("[data-scope-kind]").dispatchEvent(new Event("change"));
        // The API answers with the account; a password it made itself would come back here.
        const shown = user.password || (typed ? null : password);
        if (shown) {
          admin.showSecret(created, msg("admin.users.created_password",
            { user: user.username }), shown);
        } else {
          created.replaceChildren(el("p", {}, msg("admin.users.created", { user: user.username })));
        }
        await load();
        document.getElementById("grant-user").value = user.username;
      } catch (error) {
        admin.showErrors(form, error, errors);
      }
    });
  }

  function wireGrant() {
    const form = document.getElementById("grant-form");
    admin.wireScope(form);
    const send = (method) => changeGrant(
      form.elements.username.value, form.elements.role.value, admin.scopeValue(form), method, form,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      send("POST");
    });
    document.getElementById("grant-remove").addEventListener("click", () => send("DELETE"));
  }

  search.addEventListener("input", render);
  if (writer) {
    wireCreate();
    wireGrant();
  }
  load();
})();
