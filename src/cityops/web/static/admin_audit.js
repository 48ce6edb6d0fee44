/* 审计日志: the audit log, newest first, filtered by actor, action, object or time (the API's
 * filters; a link may carry them: /admin/audit?object_type=user&object_id=zhang), paged back by
 * id. Data: GET /api/v1/audit?…&before_id=&limit=.
 */
(function () {
  "use strict";

  const root = document.getElementById("admin-audit");
  if (!root || !window.cityops || !window.cityopsAdmin) {
    return;
  }
  const { msg, api, el, when, problemText } = window.cityops;
  const admin = window.cityopsAdmin;
  const PAGE = 50;
  const TEXT_FILTERS = ["actor", "action", "object_type", "object_id"];
  const TIME_FILTERS = ["since", "until"];
  const form = document.getElementById("audit-filter");
  const errors = document.getElementById("audit-error");
  const body = document.querySelector("#audit-table tbody");
  const status = document.getElementById("audit-status");
  let cursor = null; // before_id of the page shown; null for the newest
  let earlier = []; // the cursors of the newer pages, to go back
  let next = null;
  let pageNumber = 1;

  function short(value) {
    const text = value === undefined || value === null ? "–" : JSON.stringify(value);
    return text.length > 80 ? text.slice(0, 79) + "…" : text;
  }

  function changes(entry) {
    const before = entry.before || {};
    const after = entry.after || {};
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])]
      .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
    const cell = el("td", { class: "changes" });
    if (!keys.length) {
      cell.textContent = "–";
      return cell;
    }
    const details = el("details");
    details.append(el("summary", {}, msg("admin.audit.changed", { count: keys.length })));
    const list = el("ul");
    for (const key of keys) {
      list.append(el("li", {}, key + ": " +
        (entry.before ? short(before[key]) + " → " : "") + short(after[key])));
    }
    details.append(list);
    cell.append(details);
    return cell;
  }

  function row(entry) {
    const tr = el("tr", {
      "data-entry": entry.id, "data-action": entry.action, "data-object": entry.object_id,
    });
    const actor = entry.actor + (entry.actor_kind === "user" ? "" : " (" + entry.actor_kind + ")");
    const grant = entry.role
      ? msg("role." + entry.role) + " · " + admin.scopeLabel(entry.scope)
      : "–";
    tr.append(
      el("td", {}, when(entry.at)),
      el("td", { class: "code" }, actor),
      el("td", {}, grant),
      el("td", { class: "code" }, entry.action),
      el("td", { class: "code" }, entry.object_type + ":" + entry.object_id),
      changes(entry),
      el("td", { class: "code muted" },
        [entry.request_id, entry.client_address].filter(Boolean).join(" · ") || "–"),
    );
    return tr;
  }

  function filters() {
    const query = {};
    for (const name of TEXT_FILTERS) {
      const value = form.elements[name].value.trim();
      if (value) {
        query[name] = value;
      }
    }
    for (const name of TIME_FILTERS) {
      const value = form.elements[name].value;
      if (value) {
        const moment = new Date(value);
        query[name] = Number.isNaN(moment.getTime()) ? value : moment.toISOString();
      }
    }
    return query;
  }

  async function load() {
    root.dataset.state = "loading";
    admin.clearErrors(form);
    errors.textContent = "";
    status.textContent = msg("ws.loading");
    const query = { ...filters(), limit: PAGE };
    if (cursor !== null) {
      query.before_id = cursor;
    }
    try {
      const page = await api("/api/v1/audit?" + new URLSearchParams(query));
      next = page.next_before_id;
      body.replaceChildren(...page.items.map(row));
      if (!page.items.length) {
        admin.emptyRow(body, 7, msg("admin.audit.empty"));
      }
      status.textContent = msg("admin.audit.shown", { count: page.items.length, page: pageNumber });
      document.getElementById("audit-page").textContent =
        msg("admin.audit.page", { page: pageNumber });
      document.getElementById("audit-older").disabled = next === null;
      document.getElementById("audit-newer").disabled = !earlier.length;
      document.getElementById("audit-newest").disabled = cursor === null;
      root.dataset.state = "ready";
    } catch (error) {
      admin.showErrors(form, error, errors);
      status.textContent = "";
      root.dataset.state = "failed";
    }
  }

  function restart() {
    cursor = null;
    earlier = [];
    pageNumber = 1;
    const shown = new URLSearchParams();
    for (const name of [...TEXT_FILTERS, ...TIME_FILTERS]) {
      if (form.elements[name].value) {
        shown.set(name, form.elements[name].value);
      }
    }
    const search = shown.toString();
    window.history.replaceState(null, "", window.location.pathname + (search ? "?" + search : ""));
    return load();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    restart();
  });
  form.addEventListener("reset", () => {
    setTimeout(restart, 0); // after the browser has emptied the fields
  });
  document.getElementById("audit-older").addEventListener("click", () => {
    if (next !== null) {
      earlier.push(cursor);
      cursor = next;
      pageNumber += 1;
      load();
    }
  });
  document.getElementById("audit-newer").addEventListener("click", () => {
    if (earlier.length) {
      cursor = earlier.pop();
      pageNumber -= 1;
      load();
    }
  });
  document.getElementById("audit-newest").addEventListener("click", () => {
    cursor = null;
    earlier = [];
    pageNumber = 1;
    load();
  });

  const asked = new URLSearchParams(window.location.search);
  for (const name of [...TEXT_FILTERS, ...TIME_FILTERS]) {
    if (asked.get(name)) {
      form.elements[name].value = asked.get(name);
    }
  }
  load().catch((error) => {
    status.textContent = problemText(error);
  });
})();
