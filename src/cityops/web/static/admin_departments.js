/* 部门管理: the departments (a tree by parent); create one; rename, move or (de)activate it.
 * Data: /api/v1/departments (GET, POST, PATCH /{code}).
 */
(function () {
  "use strict";

  const root = document.getElementById("admin-departments");
  if (!root || !window.cityops || !window.cityopsAdmin) {
    return;
  }
  const { msg, api, el, problemText } = window.cityops;
  const admin = window.cityopsAdmin;
  const body = document.querySelector("#departments-table tbody");
  const status = document.getElementById("departments-status");
  const editSection = document.getElementById("edit-section");
  const editForm = document.getElementById("edit-form");
  let editing = null;

  /* Parents before children: the tree in reading order, each child under its parent. */
  function inTreeOrder(found) {
    const known = new Set(found.map((d) => d.code));
    const children = new Map();
    for (const department of found) {
      const parent = known.has(department.parent_code) ? department.parent_code : "";
      children.set(parent, [...(children.get(parent) || []), department]);
    }
    const ordered = [];
    const visit = (parent, depth) => {
      for (const department of (children.get(parent) || [])) {
        if (!ordered.some((d) => d.department.code === department.code)) {
          ordered.push({ department, depth });
          visit(department.code, depth + 1);
        }
      }
    };
    visit("", 0);
    return ordered;
  }

  function row(department, depth, names) {
    const tr = el("tr", { "data-department": department.code });
    const name = el("td", { style: "padding-left: " + (0.5 + depth * 1.4) + "rem" });
    if (depth) {
      name.append(el("span", { class: "muted", "aria-hidden": "true" }, "└ "));
    }
    name.append(el("span", {}, department.name));
    const edit = el("button", {
      type: "button",
      class: "secondary small",
      "aria-label": msg("admin.departments.edit_one", { name: department.name }),
    }, msg("admin.edit"));
    edit.addEventListener("click", () => openEdit(department));
    const actions = el("td", { class: "row-actions" });
    actions.append(edit);
    const parent = department.parent_code
      ? (names.get(department.parent_code) || "") + " (" + department.parent_code + ")"
      : "–";
    tr.append(
      el("td", { class: "code" }, department.code),
      name,
      el("td", {}, parent),
      el("td", { class: department.active ? "" : "inactive" },
        department.active ? msg("admin.active") : msg("admin.inactive")),
      actions,
    );
    return tr;
  }

  async function load() {
    root.dataset.state = "loading";
    status.textContent = msg("ws.loading");
    const found = await admin.fillDepartments(true);
    const names = new Map(found.map((d) => [d.code, d.name]));
    body.replaceChildren(...inTreeOrder(found).map((e) => row(e.department, e.depth, names)));
    if (!found.length) {
      admin.emptyRow(body, 5, msg("admin.departments.empty"));
    }
    status.textContent = msg("admin.departments.count", { count: found.length });
    root.dataset.state = "ready";
  }

  function openEdit(department) {
    editing = department;
    admin.clearErrors(editForm);
    document.getElementById("edit-error").textContent = "";
    document.getElementById("edit-code").textContent = department.code;
    editForm.elements.name.value = department.name;
    editForm.elements.parent_code.value = department.parent_code || "";
    editForm.elements.active.checked = department.active;
    for (const option of editForm.elements.parent_code.options) {
      option.disabled = option.value === department.code;
    }
    editSection.hidden = false;
    editForm.elements.name.focus();
  }

  document.getElementById("department-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const errors = document.getElementById("department-error");
    admin.clearErrors(form);
    errors.textContent = "";
    const payload = {
      code: form.elements.code.value.trim(),
      name: form.elements.name.value.trim(),
      parent_code: form.elements.parent_code.value || null,
    };
    try {
      const created = await api("/api/v1/departments", { method: "POST", json: payload });
      form.reset();
      await load();
      status.textContent = msg("admin.departments.created",
        { name: created.name, code: created.code });
    } catch (error) {
      admin.showErrors(form, error, errors);
    }
  });

  editForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!editing) {
      return;
    }
    const errors = document.getElementById("edit-error");
    admin.clearErrors(editForm);
    errors.textContent = "";
    const parent = editForm.elements.parent_code.value;
    const payload = {
      name: editForm.elements.name.value.trim(),
      active: editForm.elements.active.checked,
    };
    if (parent) {
      payload.parent_code = parent;
    } else {
      payload.clear_parent = true;
    }
    try {
      const saved = await api("/api/v1/departments/" + encodeURIComponent(editing.code), {
        method: "PATCH", json: payload,
      });
      editSection.hidden = true;
      editing = null;
      await load();
      status.textContent = msg("admin.departments.saved", { name: saved.name, code: saved.code });
    } catch (error) {
      admin.showErrors(editForm, error, errors);
    }
  });

  document.getElementById("edit-cancel").addEventListener("click", () => {
    editSection.hidden = true;
    editing = null;
  });

  load().catch((error) => {
    status.textContent = problemText(error);
    root.dataset.state = "failed";
  });
})();
