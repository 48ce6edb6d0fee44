/* 受理: the intake form. As the clerk types or places the point, the server's preview
 * (POST /api/v1/cases/preview, nothing written) shows the suggested classes with confidence, the
 * grid and its divisions, the department and grid worker, and open duplicates nearby. One submit
 * accepts the case (POST /api/v1/cases) and, for those allowed to, files, rejects or merges it.
 * Keyboard: every control is a native one; Ctrl+Enter accepts (and files, where allowed).
 */
(function () {
  "use strict";

  const root = document.getElementById("intake");
  if (!root || !window.cityops) {
    return;
  }
  const { msg, api, el, problemText, uploadPhoto } = window.cityops;
  const form = document.getElementById("intake-form");
  const classes = document.getElementById("classes");
  const route = document.getElementById("route");
  const duplicates = document.getElementById("duplicates");
  const errorBox = document.getElementById("intake-error");
  const result = document.getElementById("intake-result");
  const mergeButton = document.getElementById("accept-merge");
  let topCode = null;
  let timer = null;
  let asked = 0;
  let marker = null;

  function field(id) {
    const node = document.getElementById(id);
    return node && node.value.trim() ? node.value.trim() : null;
  }

  function number(id) {
    const value = field(id);
    return value === null ? null : Number(value);
  }

  function chosenClass() {
    const picked = classes.querySelector("input[name=matter]:checked");
    return picked ? picked.value : null;
  }

  function body() {
    const data = {
      channel: field("channel"),
      description: field("description") || "",
      appeal_type: field("appeal_type"),
      urgency: field("urgency") || "normal",
      lon: number("lon"),
      lat: number("lat"),
      address: field("address"),
      reporter_name: field("reporter_name"),
      reporter_phone: field("reporter_phone"),
    };
    const chosen = chosenClass();
    if (chosen && chosen !== topCode) {
      data.matter_code = chosen; // the clerk's choice wins over the suggestions
    }
    return data;
  }

  function showClasses(suggestions, keep) {
    classes.replaceChildren(el("legend", {}, msg("ws.intake.class")));
    topCode = suggestions.length ? suggestions[0].code : null;
    if (!suggestions.length) {
      classes.append(el("p", { class: "muted" }, msg("ws.intake.type_to_suggest")));
      return;
    }
    suggestions.forEach((s, index) => {
      const id = "matter-" + s.code;
      const input = el("input", { type: "radio", name: "matter", id, value: s.code });
      input.checked = keep ? s.code === keep : index === 0;
      const label = el("label", { for: id, class: "suggestion" });
      const share = Math.round((s.confidence || 0) * 100);
      label.append(
        el("span", { class: "code" }, s.code),
        el("span", {}, " " + (s.name || "")),
        el("span", { class: "confidence" }, " " + share + "%"),
        el("span", { class: "muted" }, " · " + msg("ws.source." + s.source)),
      );
      const meter = el("meter", { min: 0, max: 100, value: share, "aria-hidden": "true" });
      const line = el("div", { class: "suggestion-line" });
      line.append(input, label, meter);
      classes.append(line);
    });
  }

  function showRoute(preview) {
    route.replaceChildren();
    const where = preview.location || {};
    const add = (name, value) => route.append(el("dt", {}, name), el("dd", {}, value || "–"));
    add(msg("ws.fact.grid"), where.grid_code);
    add(msg("ws.intake.street"), where.street_code);
    add(msg("ws.fact.department"),
      preview.department_name ? preview.department_name + " (" + preview.department_code + ")"
        : preview.department_code);
    add(msg("ws.fact.worker"), preview.grid_worker);
    root.dataset.grid = where.grid_code || "";
    root.dataset.department = preview.department_code || "";
  }

  function showDuplicates(found) {
    duplicates.replaceChildren();
    if (mergeButton) {
      mergeButton.disabled = !found.length;
    }
    if (!found.length) {
      duplicates.append(el("li", { class: "muted" }, msg("ws.intake.none")));
      return;
    }
    found.forEach((d, index) => {
      const id = "dup-" + d.case_id;
      const item = el("li", { "data-duplicate": d.number });
      const input = el("input", { type: "radio", name: "merge_into", id, value: d.number });
      input.checked = index === 0;
      const label = el("label", { for: id });
      label.append(
        el("a", { href: "/cases/" + d.number, target: "_blank" }, d.number),
        el("span", {}, " " + msg("status." + d.status) + " · " + Math.round(d.distance_m) + " m"),
      );
      item.append(input, label);
      duplicates.append(item);
    });
  }

  async function preview() {
    const mine = ++asked;
    const data = body();
    delete data.matter_code;
    try {
      const found = await api("/api/v1/cases/preview", { method: "POST", json: data });
      if (mine !== asked) {
        return; // a newer preview is on its way
      }
      errorBox.textContent = "";
      showClasses(found.suggestions, chosenClass());
      showRoute(found);
      showDuplicates(found.duplicates);
      root.dataset.previewed = String(mine);
    } catch (error) {
      if (mine === asked) {
        errorBox.textContent = problemText(error);
      }
    }
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(preview, 300);
  }

  for (const id of ["description", "address", "lon", "lat"]) {
    document.getElementById(id).addEventListener("input", soon);
  }

  // --- the map: click to place the point -------------------------------------------------------

  if (window.L) {
    const map = L.map("intake-map", { attributionControl: Boolean(root.dataset.tileUrl) });
    if (root.dataset.tileUrl) {
      L.tileLayer(root.dataset.tileUrl, { attribution: root.dataset.tileAttribution }).addTo(map);
    }
    const outlines = L.geoJSON(null, { style: { color: "#0d2a4a", weight: 1.5, fillOpacity: 0.04 } })
      .addTo(map);
    map.setView([31.23, 121.47], 12);
    api("/api/v1/geo/divisions?level=district").then((collection) => {
      outlines.addData(collection);
      if (collection.features.length) {
        map.fitBounds(outlines.getBounds(), { padding: [8, 8] });
      }
    }).catch(() => {});
    map.on("click", (event) => {
      document.getElementById("lon").value = event.latlng.lng.toFixed(6);
      document.getElementById("lat").value = event.latlng.lat.toFixed(6);
      if (marker) {
        marker.setLatLng(event.latlng);
      } else {
        marker = L.circleMarker(event.latlng, { radius: 8, color: "#b00020", weight: 3 }).addTo(map);
      }
      preview();
    });
  }

  // --- submit: accept, then file / reject / merge -------------------------------------------------

  async function submit(then) {
    errorBox.textContent = "";
    result.replaceChildren();
    if (then === "reject" && !field("reject-reason")) {
      errorBox.textContent = msg("ws.intake.need_reason");
      document.getElementById("reject-reason").focus();
      return;
    }
    const buttons = form.querySelectorAll("button[type=submit]");
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const created = (await api("/api/v1/cases", { method: "POST", json: body() })).case;
      const photo = document.getElementById("photo").files[0];
      if (photo) {
        await uploadPhoto(created.number, photo);
      }
      const path = "/api/v1/cases/" + created.number;
      if (then === "file") {
        await api(path + "/actions/file", { method: "POST", json: {} });
      } else if (then === "reject") {
        await api(path + "/actions/reject", { method: "POST", json: { comment: field("reject-reason") } });
      } else if (then === "merge") {
        const into = duplicates.querySelector("input[name=merge_into]:checked");
        await api(path + "/merge", { method: "POST", json: { into: into.value } });
      }
      result.append(
        el("span", {}, msg("ws.intake.done" + (then ? "_" + then : ""), { number: created.number }) + " "),
        el("a", { href: "/cases/" + created.number, id: "created-case" }, msg("ws.intake.open_case")),
      );
      root.dataset.created = created.number;
      form.reset();
      showClasses([], null);
      route.replaceChildren();
      showDuplicates([]);
      document.getElementById("description").focus();
    } catch (error) {
      errorBox.textContent = problemText(error);
    } finally {
      buttons.forEach((b) => { b.disabled = b === mergeButton && !duplicates.querySelector("input"); });
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const then = event.submitter ? event.submitter.dataset.then : "";
    submit(then || "");
  });
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      submit(document.getElementById("accept-file") ? "file" : "");
    }
  });
})();
