/* 事项规则: the city's matter rules, filtered by class code; edit a rule's department, filing and
 * closing conditions (立案/结案条件), time limits (一般/紧急, e.g. "1 工作日", "4 工作时") and
 * keywords; add and delete rules. Errors from the API are shown next to the field they name.
 * Data: GET /api/v1/cases/rules[?matter=], PUT and DELETE /api/v1/cases/rules/{code}?division=,
 * the class names from GET /api/v1/catalog/matters.
 */
(function () {
  "use strict";

  const root = document.getElementById("admin-rules");
  if (!root || !window.cityops || !window.cityopsAdmin) {
    return;
  }
  const { msg, api, el, when, problemText, ApiError } = window.cityops;
  const admin = window.cityopsAdmin;
  const body = document.querySelector("#rules-table tbody");
  const status = document.getElementById("rules-status");
  const section = document.getElementById("rule-section");
  const form = document.getElementById("rule-form");
  const errors = document.getElementById("rule-error");
  const filter = document.getElementById("rules-matter");
  const COLUMNS = 9;
  let classNames = new Map();
  let departmentNames = new Map();
  let editing = null;

  function localError(field, message) {
    return new ApiError(422, { detail: field + ": " + message, errors: [{ field, message }] });
  }

  function className(code) {
    return classNames.get(code) || "";
  }

  function conditions(rule) {
    const cell = el("td", { class: "conditions" });
    if (rule.filing_condition) {
      cell.append(el("p", {}, msg("admin.rules.filing_short") + "：" + rule.filing_condition));
    }
    if (rule.closing_condition) {
      cell.append(el("p", {}, msg("admin.rules.closing_short") + "：" + rule.closing_condition));
    }
    if (!rule.filing_condition && !rule.closing_condition) {
      cell.textContent = "–";
    }
    return cell;
  }

  function row(rule) {
    const label = rule.matter_code + (rule.division_code ? " @ " + rule.division_code : "");
    const tr = el("tr", { "data-rule": rule.matter_code, "data-division": rule.division_code });
    const matter = el("td");
    matter.append(el("span", { class: "code" }, rule.matter_code), el("br"),
      el("span", {}, className(rule.matter_code)));
    const department = rule.department_code
      ? (departmentNames.get(rule.department_code) || "") + " (" + rule.department_code + ")"
      : "–";
    const edit = el("button", {
      type: "button", class: "secondary small",
      "aria-label": msg("admin.rules.edit_one", { rule: label }),
    }, msg("admin.edit"));
    edit.addEventListener("click", () => open(rule));
    const remove = el("button", {
      type: "button", class: "secondary small danger",
      "aria-label": msg("admin.rules.delete_one", { rule: label }),
    }, msg("admin.delete"));
    remove.addEventListener("click", () => {
      if (admin.confirmed(remove)) {
        deleteRule(rule);
      }
    });
    const actions = el("td", { class: "row-actions" });
    actions.append(edit, remove);
    tr.append(
      matter,
      el("td", {}, rule.division_code || msg("scope.city")),
      el("td", {}, department),
      el("td", { "data-field": "limit_normal" }, rule.limit_normal || "–"),
      el("td", { "data-field": "limit_urgent" }, rule.limit_urgent || "–"),
      conditions(rule),
      el("td", { "data-field": "keywords" }, (rule.keywords || []).join("、") || "–"),
      el("td", { class: "muted" },
        rule.updated_at ? when(rule.updated_at) + " · " + (rule.updated_by || "") : "–"),
      actions,
    );
    return tr;
  }

  async function load() {
    const asked = filter.value.trim();
    if (asked && !/^[0-9]{1,5}$/.test(asked)) {
      status.textContent = msg("admin.rules.filter_invalid");
      return;
    }
    root.dataset.state = "loading";
    status.textContent = msg("ws.loading");
    try {
      const exact = asked.length === 5 ? "?" + new URLSearchParams({ matter: asked }) : "";
      const found = await api("/api/v1/cases/rules" + exact);
      const shown = found.filter((r) => r.matter_code.startsWith(asked));
      body.replaceChildren(...shown.map(row));
      if (!shown.length) {
        admin.emptyRow(body, COLUMNS, msg("admin.rules.empty"));
      }
      status.textContent = msg("admin.rules.count", { count: shown.length });
      root.dataset.state = "ready";
    } catch (error) {
      status.textContent = problemText(error);
      root.dataset.state = "failed";
    }
  }

  function open(rule) {
    editing = rule;
    admin.clearErrors(form);
    errors.textContent = "";
    form.reset();
    const fields = form.elements;
    fields.matter_code.value = rule ? rule.matter_code : filter.value.trim();
    fields.division_code.value = rule ? rule.division_code : "";
    fields.matter_code.readOnly = Boolean(rule);
    fields.division_code.readOnly = Boolean(rule);
    if (rule) {
      fields.department_code.value = rule.department_code || "";
      fields.limit_normal.value = rule.limit_normal || "";
      fields.limit_urgent.value = rule.limit_urgent || "";
      fields.filing_condition.value = rule.filing_condition || "";
      fields.closing_condition.value = rule.closing_condition || "";
      fields.keywords.value = (rule.keywords || []).join(", ");
    }
    document.getElementById("rule-heading-code").textContent = rule
      ? rule.matter_code + " " + className(rule.matter_code) : "";
    document.getElementById("rule-form-heading").firstChild.textContent =
      (rule ? msg("admin.rules.edit") : msg("admin.rules.new")) + " ";
    section.hidden = false;
    (rule ? fields.limit_normal : fields.matter_code).focus();
  }

  function close() {
    section.hidden = true;
    editing = null;
  }

  async function save() {
    admin.clearErrors(form);
    errors.textContent = "";
    const fields = form.elements;
    const code = fields.matter_code.value.trim();
    const division = fields.division_code.value.trim();
    if (!code) {
      admin.showErrors(form, localError("matter_code", msg("admin.rules.matter_needed")), errors);
      return;
    }
    const text = (field) => fields[field].value.trim() || null;
    const payload = {
      department_code: fields.department_code.value || null,
      filing_condition: text("filing_condition"),
      closing_condition: text("closing_condition"),
      limit_normal: text("limit_normal"),
      limit_urgent: text("limit_urgent"),
      keywords: fields.keywords.value.split(/[,，|、]/).map((k) => k.trim()).filter(Boolean),
    };
    try {
      const saved = await api(
        "/api/v1/cases/rules/" + encodeURIComponent(code) + "?" +
          new URLSearchParams({ division }),
        { method: "PUT", json: payload },
      );
      close();
      await load();
      status.textContent = msg("admin.rules.saved", { rule: saved.matter_code });
    } catch (error) {
      admin.showErrors(form, error, errors);
    }
  }

  async function deleteRule(rule) {
    try {
      await api(
        "/api/v1/cases/rules/" + encodeURIComponent(rule.matter_code) + "?" +
          new URLSearchParams({ division: rule.division_code }),
        { method: "DELETE" },
      );
      if (editing && editing.matter_code === rule.matter_code &&
        editing.division_code === rule.division_code) {
        close();
      }
      await load();
      status.textContent = msg("admin.rules.deleted", { rule: rule.matter_code });
    } catch (error) {
      status.textContent = problemText(error);
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save();
  });
  document.getElementById("rule-cancel").addEventListener("click", close);
  document.getElementById("rule-new").addEventListener("click", () => open(null));
  document.getElementById("rules-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  document.getElementById("rules-all").addEventListener("click", () => {
    filter.value = "";
    load();
  });

  Promise.all([
    admin.fillDepartments(),
    api("/api/v1/catalog/matters").catch(() => []),
  ]).then(([departments, classes]) => {
    departmentNames = new Map(departments.map((d) => [d.code, d.name]));
    classNames = new Map(classes.map((c) => [c.code, c.name]));
    document.getElementById("matter-classes").replaceChildren(
      ...classes.map((c) => el("option", { value: c.code }, c.name)),
    );
    const asked = new URLSearchParams(window.location.search).get("matter");
    if (asked) {
      filter.value = asked;
    }
    return load();
  });
})();
