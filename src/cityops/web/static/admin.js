/* Shared by the admin pages (管理): errors next to the fields they name, scope fields, the
 * department lists, two-step confirmation, and secrets shown once.
 *
 * Builds on ws.js (window.cityops: msg, api, el, when, problemText). Every change goes through
 * the JSON API, which checks the permission and the scope; the pages only offer.
 */
(function () {
  "use strict";

  if (!window.cityops) {
    return;
  }
  const { msg, api, el, problemText } = window.cityops;

  /* --- errors ------------------------------------------------------------------------------ */

  function clearErrors(form) {
    for (const slot of form.querySelectorAll("[data-error-for]")) {
      slot.textContent = "";
    }
    for (const control of form.querySelectorAll("[aria-invalid]")) {
      control.removeAttribute("aria-invalid");
    }
  }

  /* The slot of a field the API names: "limit_normal", "grants[0].scope" → "scope", … */
  function slotFor(form, field) {
    const plain = field.replace(/\[\d+\]/g, "").replace(/\.\d+(?=\.|$)/g, "");
    const parts = plain.split(".");
    for (const name of [field, plain, parts[parts.length - 1], parts[0]]) {
      const slot = [...form.querySelectorAll("[data-error-for]")]
        .find((node) => node.dataset.errorFor === name);
      if (slot) {
        return slot;
      }
    }
    return null;
  }

  /* Show a failed call: each issue next to its field, the whole answer in the form's alert. */
  function showErrors(form, error, summary) {
    clearErrors(form);
    const issues = (error && error.problem && error.problem.errors) || [];
    for (const issue of issues) {
      const slot = slotFor(form, String(issue.field || ""));
      if (!slot) {
        continue;
      }
      slot.textContent = (slot.textContent ? slot.textContent + "; " : "") + issue.message;
      for (const control of form.querySelectorAll("input, select, textarea")) {
        const described = (control.getAttribute("aria-describedby") || "").split(/\s+/);
        if (described.includes(slot.id)) {
          control.setAttribute("aria-invalid", "true");
        }
      }
    }
    if (summary) {
      summary.textContent = problemText(error);
    }
    const first = form.querySelector('[aria-invalid="true"]');
    if (first) {
      first.focus();
    }
  }

  /* --- scopes ------------------------------------------------------------------------------ */

  function scopeLabel(scope) {
    if (!scope || scope === "city") {
      return msg("scope.city");
    }
    const at = scope.indexOf(":");
    const kind = scope.slice(0, at);
    const code = scope.slice(at + 1);
    return kind === "division" || kind === "department" ? msg("scope." + kind, { code }) : scope;
  }

  function scopeValue(form) {
    const kind = form.querySelector("[data-scope-kind]").value;
    const code = form.querySelector("[data-scope-code]").value.trim();
    return kind === "city" ? "city" : kind + ":" + code;
  }

  function wireScope(form) {
    const kind = form.querySelector("[data-scope-kind]");
    const code = form.querySelector("[data-scope-code]");
    if (!kind || !code) {
      return;
    }
    const update = () => {
      code.disabled = kind.value === "city";
      if (kind.value === "department") {
        code.setAttribute("list", "department-codes");
      } else {
        code.removeAttribute("list");
      }
      if (code.disabled) {
        code.value = "";
      }
    };
    kind.addEventListener("change", update);
    update();
  }

  /* --- departments ------------------------------------------------------------------------- */

  let departmentsLoad = null;

  function departments(reload) {
    if (reload || !departmentsLoad) {
      departmentsLoad = api("/api/v1/departments").catch(() => []);
    }
    return departmentsLoad;
  }

  /* Fill every department list of the page (selects marked data-departments, the datalist). */
  async function fillDepartments(reload) {
    const found = await departments(reload);
    for (const select of document.querySelectorAll("select[data-departments]")) {
      const keep = select.value;
      const first = select.options[0];
      select.replaceChildren(first);
      for (const department of found) {
        const label = department.name + " (" + department.code + ")" +
          (department.active ? "" : " · " + msg("admin.inactive"));
        select.append(el("option", { value: department.code }, label));
      }
      select.value = keep;
    }
    const list = document.getElementById("department-codes");
    if (list) {
      list.replaceChildren(...found.map((d) => el("option", { value: d.code }, d.name)));
    }
    return found;
  }

  /* --- small things ------------------------------------------------------------------------ */

  /* A destructive button asks once more: the first click arms it, the second acts. */
  function confirmed(button) {
    if (button.dataset.armed === "true") {
      return true;
    }
    button.dataset.armed = "true";
    button.dataset.label = button.textContent;
    button.textContent = msg("admin.confirm", { action: button.textContent });
    setTimeout(() => {
      if (button.isConnected && button.dataset.armed === "true") {
        button.dataset.armed = "false";
        button.textContent = button.dataset.label;
      }
    }, 6000);
    return false;
  }

  /* Show a secret (a new password, a new API key) once, in the page's status box. */
  function showSecret(box, heading, secret) {
    const value = el("code", { class: "secret-value", "data-secret": "true" }, secret);
    box.replaceChildren(
      el("p", {}, heading),
      value,
      el("p", { class: "hint" }, msg("admin.secret_once")),
    );
  }

  function emptyRow(body, columns, text) {
    const row = el("tr");
    row.append(el("td", { colspan: columns, class: "muted" }, text));
    body.replaceChildren(row);
  }

  window.cityopsAdmin = {
    clearErrors,
    showErrors,
    scopeLabel,
    scopeValue,
    wireScope,
    departments,
    fillDepartments,
    confirmed,
    showSecret,
    emptyRow,
  };
})();
