/* The case page, shared by every role: state, light and deadline, facts, place on the map,
 * photos, the timeline of its history, and a button for each move the caller may make now.
 * Data: GET /api/v1/cases/{ref}; moves: POST /api/v1/cases/{ref}/actions/{command}, with a photo
 * uploaded first (POST /api/v1/cases/{ref}/photos) and sent as an attachment id.
 */
(function () {
  "use strict";

  const root = document.getElementById("case");
  if (!root || !window.cityops) {
    return;
  }
  const { msg, api, el, when, light, problemText, uploadPhoto } = window.cityops;
  const ref = root.dataset.ref;
  const form = document.getElementById("action-form");
  const fields = document.getElementById("action-fields");
  const error = document.getElementById("action-error");
  let current = null;
  let command = null;
  let departments = null;
  let map = null;

  function fact(list, name, value) {
    list.append(el("dt", {}, name), el("dd", {}, value === null || value === undefined ? "–" : value));
  }

  function showFacts(data) {
    document.getElementById("case-number").textContent = data.number;
    document.getElementById("case-status").textContent = msg("status." + data.status);
    const badge = document.getElementById("case-light");
    badge.replaceChildren(light(data.deadline.light));
    document.getElementById("case-description").textContent = data.description;
    const list = document.getElementById("case-facts");
    list.replaceChildren();
    const matter = data.matter || {};
    fact(list, msg("ws.fact.class"), matter.code ? matter.code + " " + (matter.name || "") : null);
    fact(list, msg("ws.fact.channel"), msg("channel." + data.channel));
    fact(list, msg("ws.fact.urgency"), msg("urgency." + data.urgency));
    fact(list, msg("ws.fact.grid"), data.location.grid_code);
    fact(list, msg("ws.fact.address"), data.location.address);
    fact(list, msg("ws.fact.department"), data.department_name || data.department_code);
    fact(list, msg("ws.fact.worker"), data.grid_worker);
    fact(list, msg("ws.fact.limit"), data.deadline.limit);
    fact(list, msg("ws.fact.due"), when(data.deadline.due_at));
    fact(list, msg("ws.fact.elapsed"),
      data.deadline.elapsed_hours === null ? null : data.deadline.elapsed_hours + " h");
    fact(list, msg("ws.fact.accepted"), when(data.accepted_at) + " · " + data.accepted_by);
    fact(list, msg("ws.fact.reporter"),
      [data.reporter.name, data.reporter.phone].filter(Boolean).join(" ") || null);
    if (data.satisfaction) {
      fact(list, msg("ws.fact.satisfaction"), data.satisfaction + " / 5");
    }
    const photos = document.getElementById("case-photos");
    photos.replaceChildren(...data.attachments.map((a) => {
      const link = el("a", { href: a.url, target: "_blank", rel: "noopener" });
      link.append(el("img", { src: a.url, alt: msg("ws.case.photo_alt", { name: a.filename || a.id }) }));
      return link;
    }));
  }

  function showMap(data) {
    const where = data.location;
    const canvas = document.getElementById("case-map");
    if (!window.L || where.lon === null || where.lat === null) {
      canvas.textContent = msg("ws.case.no_place");
      canvas.classList.add("empty");
      return;
    }
    const point = [where.lat, where.lon];
    if (!map) {
      map = L.map(canvas, { attributionControl: Boolean(root.dataset.tileUrl) });
      if (root.dataset.tileUrl) {
        L.tileLayer(root.dataset.tileUrl, { attribution: root.dataset.tileAttribution }).addTo(map);
      }
    }
    map.setView(point, 17);
    L.circleMarker(point, { radius: 9, color: "#b00020", weight: 3, fillOpacity: 0.5 })
      .bindTooltip(data.number).addTo(map);
    if (where.grid_code) {
      // The grid's outline gives the point its place, with or without a tile server.
      api("/api/v1/geo/divisions/" + encodeURIComponent(where.grid_code)).then((grid) => {
        const outline = L.geoJSON(grid, {
          style: { color: "#0d2a4a", weight: 2, fillColor: "#0b5cad", fillOpacity: 0.08 },
        }).addTo(map);
        map.fitBounds(outline.getBounds(), { padding: [16, 16], maxZoom: 18 });
      }).catch(() => {});
    }
  }

  function showTimeline(data) {
    const list = document.getElementById("case-timeline");
    list.replaceChildren(...data.history.map((entry) => {
      const item = el("li", { "data-command": entry.command });
      const head = el("p", { class: "entry-head" });
      head.append(
        el("strong", {}, msg("cmd." + entry.command)),
        el("span", { class: "muted" }, " → " + msg("status." + entry.to_status)),
      );
      const who = el("p", { class: "muted" },
        when(entry.at) + " · " + entry.actor + (entry.role ? " (" + msg("role." + entry.role) + ")" : ""));
      item.append(head, who);
      if (entry.comment) {
        item.append(el("p", { class: "comment" }, entry.comment));
      }
      for (const id of entry.attachments || []) {
        const link = el("a", { href: "/api/v1/cases/attachments/" + id, target: "_blank" },
          msg("ws.case.photo_n", { id }));
        item.append(link);
      }
      return item;
    }).reverse());
  }

  function showActions(data) {
    const box = document.getElementById("case-actions");
    box.replaceChildren();
    for (const name of data.your_commands) {
      const button = el("button", { type: "button", "data-command": name }, msg("cmd." + name));
      button.addEventListener("click", () => openForm(name));
      box.append(button);
    }
    if (!data.your_commands.length) {
      box.append(el("p", { class: "muted" }, msg("ws.case.no_moves")));
    }
  }

  async function departmentOptions() {
    if (departments === null) {
      departments = await api("/api/v1/departments");
    }
    return departments;
  }

  async function openForm(name) {
    command = name;
    error.textContent = "";
    document.getElementById("action-title").textContent = msg("cmd." + name);
    fields.replaceChildren();
    if (name === "dispatch") {
      const select = el("select", { id: "action-department" });
      for (const d of await departmentOptions()) {
        const option = el("option", { value: d.code }, d.name + " (" + d.code + ")");
        option.selected = d.code === current.department_code;
        select.append(option);
      }
      fields.append(el("label", { for: "action-department" }, msg("ws.case.department")), select);
    } else if (name === "file") {
      fields.append(
        el("label", { for: "action-matter" }, msg("ws.case.matter")),
        el("input", { id: "action-matter", value: current.matter.code || "", maxlength: 5 }),
      );
    } else if (name === "evaluate") {
      const select = el("select", { id: "action-satisfaction" });
      for (let score = 5; score >= 1; score -= 1) {
        select.append(el("option", { value: score }, msg("ws.case.score", { score })));
      }
      fields.append(el("label", { for: "action-satisfaction" }, msg("ws.case.satisfaction")), select);
    } else if (name === "request_extension" || name === "approve_extension") {
      fields.append(
        el("label", { for: "action-extension" }, msg("ws.case.extension")),
        el("input", { id: "action-extension", placeholder: "2 工作日", maxlength: 20 }),
      );
    }
    form.hidden = false;
    document.getElementById("action-comment").value = "";
    document.getElementById("action-photo").value = "";
    const first = fields.querySelector("input, select") || document.getElementById("action-comment");
    first.focus();
  }

  function value(id) {
    const node = document.getElementById(id);
    return node && node.value.trim() ? node.value.trim() : null;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const submit = document.getElementById("action-submit");
    submit.disabled = true;
    error.textContent = "";
    try {
      const payload = { comment: value("action-comment"), attachments: [] };
      const file = document.getElementById("action-photo").files[0];
      if (file) {
        const photo = await uploadPhoto(current.number, file);
        payload.attachments.push(photo.id);
      }
      if (command === "dispatch") {
        payload.department_code = value("action-department");
      } else if (command === "file") {
        payload.matter_code = value("action-matter");
      } else if (command === "evaluate") {
        payload.satisfaction = Number(value("action-satisfaction"));
      } else if (command === "request_extension" || command === "approve_extension") {
        payload.extension = value("action-extension");
      }
      await api("/api/v1/cases/" + current.number + "/actions/" + command, {
        method: "POST", json: payload,
      });
      form.hidden = true;
      await load();
      document.getElementById("case-message").textContent = msg("ws.case.done", {
        command: msg("cmd." + command),
      });
      document.getElementById("actions-heading").focus();
    } catch (failure) {
      error.textContent = problemText(failure);
    } finally {
      submit.disabled = false;
    }
  });
  document.getElementById("action-cancel").addEventListener("click", () => {
    form.hidden = true;
  });
  document.getElementById("actions-heading").setAttribute("tabindex", "-1");

  async function load() {
    try {
      current = await api("/api/v1/cases/" + encodeURIComponent(ref));
      showFacts(current);
      showMap(current);
      showTimeline(current);
      showActions(current);
      root.dataset.state = "ready";
      root.dataset.status = current.status;
    } catch (failure) {
      root.dataset.state = "failed";
      document.getElementById("case-message").textContent =
        failure.status === 404 ? msg("ws.case.not_found") : problemText(failure);
    }
  }

  load();
})();
