/* 告警: the alert queue. Open alerts by warning level (I 红 II 橙 III 黄 IV 蓝), the list filtered
 * by status and level (kept in the address), each alert's level, subject (linking to its device),
 * message, times, occurrences and the case it opened (/cases/<number>, the number read from the
 * case API); acknowledge (确认) and resolve (解除) buttons for alerts:manage. Live updates follow
 * the event stream for those with events:read; the others' page polls.
 * Data: GET /api/v1/alerts, /api/v1/alerts/summary, /api/v1/cases/{id}; moves:
 * POST /api/v1/alerts/{id}/acknowledge and /resolve (with the CSRF header).
 */
(function () {
  "use strict";

  const root = document.getElementById("alerts");
  if (!root || !window.cityops) {
    return;
  }
  const { msg, api, el, when, problemText } = window.cityops;
  const data = root.dataset;
  const manage = data.manage === "on";
  const LEVELS = ["I", "II", "III", "IV"];
  const LIMIT = 200;
  const body = document.querySelector("#alert-table tbody");
  const form = document.getElementById("alert-filters");
  const statusLine = document.getElementById("alerts-status");
  const errorLine = document.getElementById("alerts-error");
  const caseNumbers = new Map();  // case id → its number (null: not readable)
  let ruleNames = null;  // rule key → its name, read once
  let busy = 0;

  function levelBadge(level) {
    const badge = el("span", { class: "level level-" + level });
    badge.append(el("span", { class: "level-dot", "aria-hidden": "true" }),
      el("span", {}, msg("alerts.level." + level) + " · " + msg("alerts.color." + level)));
    return badge;
  }

  function stacked(main, lines) {
    const cell = el("td");
    cell.append(document.createTextNode(main));
    for (const line of lines.filter(Boolean)) {
      cell.append(el("span", { class: "muted" }, line));
    }
    return cell;
  }

  function caseCell(alert) {
    const cell = el("td", { "data-case-cell": alert.case_id || "" });
    const number = alert.case_id ? caseNumbers.get(alert.case_id) : undefined;
    if (!alert.case_id) {
      cell.textContent = "–";
    } else if (number) {
      cell.append(el("a", { href: "/cases/" + encodeURIComponent(number) }, number));
    } else {
      cell.textContent = msg("alerts.case_id", { id: alert.case_id });
    }
    return cell;
  }

  function row(alert) {
    const tr = el("tr", { "data-alert": alert.id, "data-status": alert.status,
      "data-level": alert.level });
    const levelCell = el("td");
    levelCell.append(levelBadge(alert.level));
    const subjectCell = el("td");
    const device = alert.subject.split("/")[0];
    subjectCell.append(el("a", { href: "/devices/" + encodeURIComponent(device), class: "code" },
      alert.subject), el("span", { class: "muted" }, msg("alerts.rule",
      { rule: (ruleNames && ruleNames.get(alert.rule)) || alert.rule })));
    const statusCell = stacked(msg("alerts.status." + alert.status), [
      alert.acknowledged_at ? msg("alerts.acknowledged_by",
        { time: when(alert.acknowledged_at), who: alert.acknowledged_by || "–" }) : "",
      !alert.resolved_at ? "" : alert.resolved_by
        ? msg("alerts.resolved_by", { time: when(alert.resolved_at), who: alert.resolved_by })
        : msg("alerts.resolved_auto", { time: when(alert.resolved_at) }),
    ]);
    statusCell.classList.add("status");
    tr.append(levelCell, subjectCell, el("td", { class: "message" }, alert.message), statusCell,
      el("td", {}, when(alert.raised_at)), el("td", {}, when(alert.last_seen_at)),
      el("td", {}, alert.occurrences), caseCell(alert));
    if (manage) {
      const actions = el("td", { class: "actions" });
      if (alert.status === "raised") {
        actions.append(button(alert, "acknowledge"));
      }
      if (alert.status !== "resolved") {
        actions.append(button(alert, "resolve"));
      }
      tr.append(actions);
    }
    return tr;
  }

  function button(alert, action) {
    const element = el("button", { type: "button", "data-action": action,
      class: action === "resolve" ? "secondary" : null,
      "aria-label": msg("alerts." + action + "_one", { id: alert.id }) }, msg("alerts." + action));
    element.addEventListener("click", () => act(alert, action, element));
    return element;
  }

  async function act(alert, action, element) {
    const current = element.closest("tr");
    for (const other of current.querySelectorAll("button")) {
      other.disabled = true;
    }
    errorLine.textContent = "";
    busy += 1;
    try {
      const updated = await api("/api/v1/alerts/" + alert.id + "/" + action, { method: "POST" });
      current.replaceWith(row(updated));
      statusLine.textContent = msg("alerts.done." + action, { id: alert.id });
      await loadSummary();
    } catch (error) {
      errorLine.textContent = problemText(error);
      for (const other of current.querySelectorAll("button")) {
        other.disabled = false;
      }
    } finally {
      busy -= 1;
    }
  }

  async function fillCases(alerts) {
    if (data.cases !== "on") {
      return;
    }
    const wanted = [...new Set(alerts.map((a) => a.case_id).filter(Boolean))]
      .filter((id) => !caseNumbers.has(id));
    await Promise.all(wanted.map(async function (id) {
      try {
        caseNumbers.set(id, (await api("/api/v1/cases/" + id)).number);
      } catch (error) {
        caseNumbers.set(id, null);  // outside the caller's scope: the id is shown, no link
      }
    }));
  }

  async function loadSummary() {
    const summary = await api("/api/v1/alerts/summary");
    for (const level of LEVELS) {
      root.querySelector('.level-count[data-level="' + level + '"] .level-number').textContent =
        String(summary.open_by_level[level] || 0);
    }
  }

  function query() {
    const params = new URLSearchParams({ status: form.elements.status.value });
    if (form.elements.level.value) {
      params.set("level", form.elements.level.value);
    }
    return params;
  }

  let ticket = 0;
  async function load() {
    const mine = ++ticket;
    root.dataset.state = "loading";
    const params = query();
    params.set("limit", String(LIMIT));
    try {
      const [alerts] = await Promise.all([api("/api/v1/alerts?" + params), loadSummary(),
        ruleNames ? null : api("/api/v1/alerts/rules").then((rules) => {
          ruleNames = new Map(rules.map((r) => [r.key, r.name]));
        }, () => { ruleNames = new Map(); })]);
      await fillCases(alerts);
      if (mine !== ticket) {
        return;
      }
      body.replaceChildren(...alerts.map(row));
      if (!alerts.length) {
        const empty = el("tr");
        empty.append(el("td", { colspan: manage ? 9 : 8, class: "muted" }, msg("alerts.empty")));
        body.append(empty);
      }
      document.getElementById("alerts-count").textContent =
        msg(alerts.length >= LIMIT ? "alerts.count_limited" : "alerts.count",
          { count: alerts.length });
      root.dataset.state = "ready";
    } catch (error) {
      if (mine === ticket) {
        errorLine.textContent = problemText(error);
        root.dataset.state = "failed";
      }
    }
  }

  function apply(event) {
    if (event) {
      event.preventDefault();
    }
    history.replaceState(null, "", "/alerts?" + query());
    statusLine.textContent = "";
    load();
  }
  form.addEventListener("submit", apply);
  form.elements.status.addEventListener("change", () => apply());
  form.elements.level.addEventListener("change", () => apply());

  // Live: alert events reload the list (several at once, once); not while a move is under way.
  let pending = null;
  function soon() {
    if (!pending) {
      pending = setTimeout(function () {
        pending = null;
        if (busy) {
          soon();
        } else {
          load();
        }
      }, 300);
    }
  }
  if (data.live === "on") {
    const stream = new EventSource("/api/v1/events/stream?after=" +
      encodeURIComponent(data.eventsAfter || "0"));
    for (const type of ["AlertRaised", "AlertAcknowledged", "AlertResolved", "AlertCaseOpened"]) {
      stream.addEventListener(type, soon);
    }
  } else {
    setInterval(soon, (Number(data.poll) || 30) * 1000);
  }

  load();
})();
