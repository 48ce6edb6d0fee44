/* 工作台: one role's queue (cases with their light and deadline), paging, and bulk actions for
 * the dispatcher (file, dispatch to the proposed department, urge, void with a reason).
 * Data: GET /api/v1/cases/queue; actions: POST /api/v1/cases/{ref}/actions/{command}.
 */
(function () {
  "use strict";

  const root = document.getElementById("work");
  if (!root || !window.cityops) {
    return;
  }
  const { msg, api, el, when, light, problemText } = window.cityops;
  const queue = root.dataset.queue;
  const PAGE = 50;
  const body = document.querySelector("#cases tbody");
  const status = document.getElementById("work-status");
  const bulk = document.getElementById("bulk");
  let offset = 0;
  let departmentNames = new Map();
  let total = 0;
  let shown = [];

  function place(item) {
    const where = item.location || {};
    return where.grid_code || where.community_code || where.street_code || where.address || "–";
  }

  function row(item) {
    const tr = el("tr", { "data-case": item.number });
    if (bulk || queue === "dispatch") {
      const cell = el("td");
      cell.append(el("input", {
        type: "checkbox", "data-select": item.number,
        "aria-label": msg("ws.bulk.select", { number: item.number }),
      }));
      tr.append(cell);
    }
    const lightCell = el("td");
    lightCell.append(light(item.deadline && item.deadline.light));
    const numberCell = el("td");
    numberCell.append(el("a", { href: "/cases/" + item.number }, item.number));
    const matter = item.matter || {};
    tr.append(
      lightCell,
      numberCell,
      el("td", {}, matter.name || matter.code || "–"),
      el("td", {}, msg("status." + item.status)),
      el("td", { class: "code" }, place(item)),
      el("td", {}, departmentNames.get(item.department_code) || item.department_code || "–"),
      el("td", {}, when(item.deadline && item.deadline.due_at)),
      el("td", { class: "description" }, item.description),
    );
    return tr;
  }

  async function load() {
    status.textContent = msg("ws.loading");
    try {
      const page = await api(
        "/api/v1/cases/queue?" + new URLSearchParams({ queue, limit: PAGE, offset }),
      );
      shown = page.items;
      total = page.total;
      body.replaceChildren(...page.items.map(row));
      if (!page.items.length) {
        const empty = el("tr");
        empty.append(el("td", { colspan: 9, class: "muted" }, msg("ws.work.empty")));
        body.replaceChildren(empty);
      }
      const last = Math.min(offset + PAGE, total);
      document.getElementById("page-info").textContent =
        msg("ws.work.page", { first: total ? offset + 1 : 0, last, total });
      document.getElementById("prev").disabled = offset === 0;
      document.getElementById("next").disabled = offset + PAGE >= total;
      const count = document.querySelector('[data-count="' + queue + '"]');
      if (count) {
        count.textContent = String(total);
      }
      const parts = document.getElementById("parts");
      parts.textContent = page.parts
        ? Object.entries(page.parts).map(([k, v]) => msg("ws.part." + k) + " " + v).join(" · ")
        : "";
      status.textContent = "";
      root.dataset.state = "ready";
      updateBulk();
    } catch (error) {
      status.textContent = problemText(error);
      root.dataset.state = "failed";
    }
  }

  function selected() {
    return [...body.querySelectorAll("input[data-select]:checked")].map((c) => c.dataset.select);
  }

  function updateBulk() {
    const count = document.getElementById("bulk-count");
    if (count) {
      count.textContent = msg("ws.bulk.count", { count: selected().length });
    }
  }

  async function runBulk(command) {
    const numbers = selected();
    if (!numbers.length) {
      status.textContent = msg("ws.bulk.none");
      return;
    }
    const reason = (document.getElementById("bulk-reason") || {}).value || "";
    if (command === "void" && !reason.trim()) {
      status.textContent = msg("ws.bulk.need_reason");
      document.getElementById("bulk-reason").focus();
      return;
    }
    const byNumber = new Map(shown.map((item) => [item.number, item]));
    const failures = [];
    let done = 0;
    for (const number of numbers) {
      const item = byNumber.get(number) || {};
      const payload = { comment: reason || null };
      if (command === "dispatch") {
        payload.department_code = item.department_code || null;
      }
      try {
        await api("/api/v1/cases/" + number + "/actions/" + command, {
          method: "POST", json: payload,
        });
        done += 1;
      } catch (error) {
        failures.push(number + ": " + problemText(error));
      }
    }
    await load();
    status.textContent = msg("ws.bulk.result", { done, failed: failures.length }) +
      (failures.length ? " — " + failures.join("; ") : "");
  }

  document.getElementById("prev").addEventListener("click", () => {
    offset = Math.max(0, offset - PAGE);
    load();
  });
  document.getElementById("next").addEventListener("click", () => {
    offset += PAGE;
    load();
  });
  const all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", () => {
      for (const box of body.querySelectorAll("input[data-select]")) {
        box.checked = all.checked;
      }
      updateBulk();
    });
  }
  body.addEventListener("change", updateBulk);
  for (const button of document.querySelectorAll("[data-bulk]")) {
    button.addEventListener("click", () => runBulk(button.dataset.bulk));
  }
  // The other tabs show how many cases wait there.
  for (const tab of document.querySelectorAll("[data-queue-tab]")) {
    const name = tab.dataset.queueTab;
    if (name !== queue) {
      api("/api/v1/cases/queue?" + new URLSearchParams({ queue: name, limit: 1 }))
        .then((page) => {
          tab.querySelector("[data-count]").textContent = String(page.total);
        })
        .catch(() => {});
    }
  }
  api("/api/v1/departments")
    .then((found) => {
      departmentNames = new Map(found.map((d) => [d.code, d.name]));
    })
    .catch(() => {})
    .finally(load);
})();
