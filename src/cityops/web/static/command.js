/* The command center (大屏): cards, one map with drill-down, charts and the live feed.
 *
 * Everything comes from this server's API: /api/v1/situation (cards, open cases and areas per
 * child division), /api/v1/situation/charts (trend, top classes, department leaderboard,
 * channels) of the same scope and period, /api/v1/geo/divisions (shapes) and the event stream.
 * The one map shades the divisions by a chosen measure (open, overdue, open per km²); once the
 * page is ready it adds the open cases as markers clustered by zoom and coloured by light
 * (/api/v1/situation/cases), and, zoomed in, the components and places layers of the view
 * (command_layers.js). The charts (command_charts.js) follow the light or dark theme (ECharts'
 * own "dark" theme on a transparent background). Text from the store (names) is always set as
 * text, never as HTML.
 */
(function () {
  "use strict";

  const root = document.getElementById("command");
  if (!root || !window.L || !L.markerClusterGroup || !window.echarts ||
      !window.cityopsCommandCharts || !window.cityopsCommandLayers) {
    return;
  }
  const data = root.dataset;
  const state = { trail: [], period: "day", measure: "open" };
  const status = document.getElementById("command-status");
  const FEED_LENGTH = 30;
  const SHADES = {
    open: ["#e8f1fb", "#9ecae1", "#4292c6", "#08519c"],
    red: ["#fdecea", "#f4a3a0", "#e0524d", "#a50f15"],
    density: ["#f2f0f7", "#cbc9e2", "#9e9ac8", "#6a51a3"],
  };
  const LIGHTS = ["red", "yellow", "green", "none"];  // the worst first

  // --- talking to the API ----------------------------------------------------------------------

  async function getJSON(path, signal) {
    const response = await fetch(path, {
      credentials: "same-origin",
      headers: { Accept: "application/json, application/geo+json" },
      signal: signal,
    });
    if (!response.ok) {
      throw new Error("HTTP " + response.status);
    }
    return response.json();
  }

  function division() {
    return state.trail.length ? state.trail[state.trail.length - 1].code : null;
  }

  function query(extra) {
    const params = new URLSearchParams(extra || {});
    if (division()) {
      params.set("division", division());
    }
    return params.toString();
  }

  // --- cards -----------------------------------------------------------------------------------

  function formatted(value, unit) {
    if (value === null || value === undefined) {
      return "–";
    }
    if (unit === "%") {
      return (value * 100).toFixed(1) + "%";
    }
    if (unit === "h") {
      return value.toFixed(1) + " h";
    }
    return Number.isInteger(value) ? String(value) : value.toFixed(2);
  }

  function showCards(cards) {
    for (const element of root.querySelectorAll("[data-card]")) {
      const card = cards[element.dataset.card] || {};
      const unit = element.dataset.unit;
      element.querySelector(".kpi-value").textContent = formatted(card.value, unit);
      const change = element.querySelector(".kpi-change");
      change.textContent = "";
      delete element.dataset.trend;
      if (typeof card.value === "number" && typeof card.previous === "number") {
        const delta = card.value - card.previous;
        const arrow = delta > 0 ? "▲ " : delta < 0 ? "▼ " : "＝ ";
        change.textContent = arrow + formatted(Math.abs(delta), unit);
        element.dataset.trend = delta > 0 ? "up" : delta < 0 ? "down" : "flat";
      }
    }
  }

  // --- the map: divisions shaded by a measure ----------------------------------------------------

  const map = L.map("command-map", { zoomSnap: 0.25, maxZoom: 19,
    attributionControl: Boolean(data.tileUrl) });
  if (data.tileUrl) {
    L.tileLayer(data.tileUrl, { attribution: data.tileAttribution, maxZoom: 19 }).addTo(map);
  }
  map.createPane("layers").style.zIndex = 450;  // above the shapes, below the case markers
  const ZERO = { open: 0, red: 0, density: 0 };

  function fill(message, values) {
    return message.replace(/\{(\w+)\}/g, function (all, name) {
      return name in values ? String(values[name]) : all;
    });
  }

  function box(title, lines, link) {  // popups and tooltips, built from text nodes
    const element = document.createElement("div");
    const heading = document.createElement(link ? "a" : "strong");
    heading.textContent = title;
    if (link) {
      heading.href = link;
    }
    element.appendChild(heading);
    for (const line of lines) {
      element.appendChild(document.createElement("br"));
      element.appendChild(document.createTextNode(line));
    }
    return element;
  }

  const density = function (value) { return value.toFixed(1) + " " + data.msgPerKm2; };
  const shapes = L.geoJSON(null, {
    style: function () {
      return { color: "#0d2a4a", weight: 1.5, fillOpacity: 0.7, fillColor: SHADES.open[0] };
    },
    onEachFeature: function (feature, layer) {
      layer.on("click", function () {
        drillInto(feature.properties.code, feature.properties.name);
      });
      layer.bindTooltip(function () {
        const counts = layer.counts || ZERO;
        return box(feature.properties.name, [data.msgOpen + " " + counts.open + " · " +
          data.msgOverdue + " " + counts.red + " · " + density(counts.density)]);
      }, { sticky: true });
    },
  }).addTo(map);

  function measured(layer) {
    return (layer.counts || ZERO)[state.measure];
  }

  function shade(value, highest) {  // four classes: 0, up to ⅓, ⅔ and all of the highest
    const palette = SHADES[state.measure];
    if (!value || !highest) {
      return palette[0];
    }
    return value * 3 > highest * 2 ? palette[3] : value * 3 > highest ? palette[2] : palette[1];
  }

  function drawLegend(highest) {
    const steps = document.getElementById("legend-steps");
    const palette = SHADES[state.measure];
    const counted = state.measure !== "density";
    steps.replaceChildren();
    function step(color, text) {
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = color;
      steps.append(swatch, document.createTextNode(text));
    }
    step(palette[0], "0");
    let below = 0;
    for (let index = 1; index <= 3 && highest > 0; index++) {
      const bound = (highest * index) / 3;
      if (!counted) {
        step(palette[index], "≤ " + bound.toFixed(1));
        continue;
      }
      const top = Math.floor(bound + 1e-9);  // counts in this class: below + 1 … top
      if (top > below) {
        step(palette[index], top === below + 1 ? String(top) : below + 1 + "–" + top);
      }
      below = Math.max(below, top);
    }
    if (!counted) {
      steps.append(document.createTextNode(" " + data.msgPerKm2));
    }
    const select = document.getElementById("map-measure");
    document.getElementById("legend-measure").textContent = select.selectedOptions[0].text;
    document.getElementById("legend").dataset.measure = state.measure;
  }

  function styleShapes() {
    const layers = shapes.getLayers();
    const highest = Math.max(0, ...layers.map(measured));
    for (const layer of layers) {
      const red = (layer.counts || ZERO).red;
      layer.setStyle({ fillColor: shade(measured(layer), highest), weight: red ? 3 : 1.5,
        color: red ? "#c62828" : "#0d2a4a" });
    }
    drawLegend(highest);
    root.dataset.measure = state.measure;
  }

  async function drawMap(situation) {
    const code = division();
    const path = code
      ? "/api/v1/geo/divisions?parent_code=" + encodeURIComponent(code)
      : "/api/v1/geo/divisions?level=district";
    const collection = await getJSON(path);
    const counts = new Map(situation.children.map(function (c) { return [c.code, c]; }));
    const areas = new Map((situation.areas || []).map(function (a) { return [a.code, a]; }));
    shapes.clearLayers();
    shapes.addData(collection);
    shapes.eachLayer(function (layer) {
      const properties = layer.feature.properties;
      const found = counts.get(properties.code) || ZERO;
      const area = areas.get(properties.code);
      const km2 = (properties.area_m2 || 0) / 1e6;
      layer.counts = { open: found.open, red: found.red,
        density: area ? area.open_per_km2 || 0 : km2 ? found.open / km2 : 0 };
      if (layer.getElement()) {
        layer.getElement().dataset.code = properties.code;
      }
    });
    styleShapes();
    if (collection.features.length) {
      map.fitBounds(shapes.getBounds(), { padding: [12, 12] });
    }
  }

  document.getElementById("map-measure").addEventListener("change", function (event) {
    state.measure = event.target.value;
    styleShapes();
  });

  // --- the map: case markers clustered by zoom, coloured by light -------------------------------

  const notes = { markers: "", layers: "" };
  function note(source, text) {
    notes[source] = text;
    document.getElementById("map-note").textContent =
      Object.values(notes).filter(Boolean).join(" · ");
  }

  const markers = L.markerClusterGroup({
    showCoverageOnHover: false,
    maxClusterRadius: 50,
    iconCreateFunction: function (cluster) {
      let worst = LIGHTS.length - 1;
      for (const marker of cluster.getAllChildMarkers()) {
        worst = Math.min(worst, LIGHTS.indexOf(marker.options.light));
        if (!worst) {
          break;
        }
      }
      const count = document.createElement("span");
      count.textContent = cluster.getChildCount();
      return L.divIcon({ html: count, className: "case-cluster light-" + LIGHTS[worst],
        iconSize: L.point(36, 36) });
    },
  }).addTo(map);

  function statusName(code) {
    return data["status" + code.split("_").map(function (part) {
      return part.charAt(0).toUpperCase() + part.slice(1);
    }).join("")];
  }

  function caseMarker(item) {
    const light = item.light || "none";
    const lightName = data["msgLight" + light.charAt(0).toUpperCase() + light.slice(1)];
    const marker = L.marker([item.lat, item.lon], {
      icon: L.divIcon({ className: "case-marker light-" + light, iconSize: L.point(14, 14) }),
      title: item.number + " · " + lightName,
      light: light,
    });
    marker.on("popupopen", function () { reading = true; });
    marker.on("popupclose", function () {
      reading = false;
      if (markersStale) {  // what the live feed held back while the popup was open
        markersStale = false;
        loadMarkers();
      }
    });
    marker.bindPopup(function () {
      return box(data.msgPopupCase + " " + item.number, [
        data.msgPopupMatter + ": " + (item.matter.name || item.matter.code || "–"),
        data.msgPopupStatus + ": " + (statusName(item.status) || item.status_label),
        data.msgPopupLight + ": " + lightName,
      ], "/cases/" + encodeURIComponent(item.number));
    });
    return marker;
  }

  // A live refresh must not pull a case's popup from under its reader: while one is open the
  // markers wait, and catch up when it closes.
  let reading = false;
  let markersStale = false;
  let markerRequest = null;
  let markersOf;  // the division whose markers are on the map (undefined: none yet)

  async function loadMarkers() {
    if (markerRequest) {
      markerRequest.abort();
    }
    const request = (markerRequest = new AbortController());
    const code = division();
    root.dataset.markers = "loading";
    markers.clearLayers();
    markersOf = undefined;
    note("markers", data.msgMarkersLoading);
    try {
      const found = await getJSON("/api/v1/situation/cases?" + query(), request.signal);
      if (request !== markerRequest) {
        return;
      }
      markers.addLayers(found.items.map(caseMarker));
      markersOf = code;
      note("markers", found.truncated
        ? fill(data.msgMarkersTruncated, { shown: found.count, total: found.total }) : "");
      root.dataset.markerCount = String(found.count);
      root.dataset.markers = "ready";
    } catch (error) {
      if (request === markerRequest) {  // not merely cut short by a newer load
        note("markers", data.msgMarkersFailed);
        root.dataset.markers = "failed";
      }
    }
  }

  // --- the map: components and places, zoomed in (command_layers.js) -------------------------

  window.cityopsCommandLayers(map, root, { box: box, note: note, fill: fill, getJSON: getJSON });

  // --- charts (command_charts.js) -------------------------------------------------------------

  const charts = window.cityopsCommandCharts(data);

  // --- the trail (breadcrumb) ------------------------------------------------------------------

  function drawTrail() {
    const trail = document.getElementById("trail");
    trail.replaceChildren();
    const steps = [{ code: null, name: data.msgCity }].concat(state.trail);
    steps.forEach(function (step, index) {
      if (index) {
        trail.appendChild(document.createTextNode(" › "));
      }
      if (index === steps.length - 1) {
        const here = document.createElement("span");
        here.setAttribute("aria-current", "page");
        here.textContent = step.name;
        trail.appendChild(here);
        return;
      }
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.textContent = step.name;
      button.addEventListener("click", function () {
        state.trail = state.trail.slice(0, index);
        refresh();
      });
      trail.appendChild(button);
    });
  }

  function drillInto(code, name) {
    if (code === division() || code.length > 15) {
      return;
    }
    state.trail.push({ code: code, name: name });
    refresh();
  }

  // --- putting it together ---------------------------------------------------------------------

  let ticket = 0;

  async function refresh() {
    const mine = ++ticket;
    root.dataset.state = "loading";
    drawTrail();
    try {
      const scope = query({ period: state.period });
      const [situation, found] = await Promise.all([
        getJSON("/api/v1/situation?" + scope),
        getJSON("/api/v1/situation/charts?" + scope),
      ]);
      if (mine !== ticket) {
        return;
      }
      showCards(situation.cards);
      charts.draw(found);
      await drawMap(situation);
      if (mine === ticket) {
        status.textContent = "";
        root.dataset.state = "ready";
        root.dataset.division = division() || "";
        if (markersOf !== division()) {  // after the figures: markers never hold up a drill-down
          loadMarkers();
        }
      }
    } catch (error) {
      if (mine === ticket) {
        status.textContent = data.msgFailed;
        root.dataset.state = "failed";
      }
    }
  }

  document.getElementById("period").addEventListener("change", function (event) {
    state.period = event.target.value;
    refresh();
  });

  const themeToggle = document.getElementById("theme-toggle");
  function applyTheme(dark) {
    document.documentElement.dataset.theme = dark ? "dark" : "light";
    charts.setDark(dark);
    themeToggle.setAttribute("aria-pressed", dark ? "true" : "false");
    themeToggle.textContent = dark ? data.msgThemeLight : data.msgThemeDark;
    try {
      localStorage.setItem("cityops-theme", dark ? "dark" : "light");
    } catch (ignored) { /* private mode: the choice lasts for this page only */ }
  }
  themeToggle.addEventListener("click", function () {
    applyTheme(document.documentElement.dataset.theme !== "dark");
  });
  applyTheme(charts.storedDark());

  // --- the live feed ---------------------------------------------------------------------------

  const feed = document.getElementById("feed");
  let pending = null;

  function onEvent(message) {
    const event = JSON.parse(message.data);
    const payload = event.payload || {};
    const item = document.createElement("li");
    item.dataset.type = event.type;
    const time = document.createElement("time");
    time.dateTime = event.occurred_at;
    time.textContent = new Date(event.occurred_at).toLocaleTimeString();
    item.appendChild(time);
    const label = data["msgEvent" + event.type.charAt(0) + event.type.slice(1).toLowerCase()];
    const words = [label || event.type, payload.number || "", payload.to_status || payload.light || ""];
    item.appendChild(document.createTextNode(" " + words.filter(Boolean).join(" ")));
    feed.prepend(item);
    while (feed.children.length > FEED_LENGTH) {
      feed.lastElementChild.remove();
    }
    if (!pending) {  // many events at once: one refresh of the figures and markers
      pending = setTimeout(function () {
        pending = null;
        if (reading) {
          markersStale = true;
        } else {
          markersOf = undefined;
        }
        refresh();
      }, 1000);
    }
  }

  // Only what happens from now on: the stream starts after the newest event, and EventSource
  // resumes from the last id it saw (Last-Event-ID) when it reconnects on its own.
  if (data.feed === "on") {
    const after = encodeURIComponent(data.eventsAfter || "0");
    const stream = new EventSource("/api/v1/events/stream?after=" + after);
    for (const type of ["CaseAccepted", "CaseMoved", "CaseLightChanged", "CaseEscalated",
      "CasesMerged"]) {
      stream.addEventListener(type, onEvent);
    }
  }

  refresh();
})();
