// The home page map: district, street, community and unit-grid outlines from the geo API, a
// legend with layer toggles, and "what is here?" (grid, community, street, district) on click.
// Everything it loads comes from this server; map tiles are drawn only when the deployment names
// its own tile server (CITYOPS_MAP_TILE_URL), otherwise the outlines lie on a plain background.
// Configuration and translated messages arrive as data-* attributes of the #map element.
(function () {
  "use strict";

  const element = document.getElementById("map");
  if (!element || typeof L === "undefined") {
    return;
  }
  const data = element.dataset;
  const api = data.api;
  const status = document.getElementById("map-status");
  const locateOut = document.getElementById("map-locate");

  const chinese = document.documentElement.lang.startsWith("zh");
  const separator = chinese ? "" : " ";
  const colon = chinese ? "：" : ": ";
  const GRID_MIN_ZOOM = 15; // below this the communities are the finest level drawn
  const COMMUNITY_MIN_ZOOM = 11;
  const GRID_LIMIT = 5000;
  const COMMUNITY_LIMIT = 3000;
  const STREET_LIMIT = 3000;
  const LEVELS = ["district", "street", "community", "grid"];
  // Drawn bottom to top: the district's fill is the "land" under everything, the grids lie under
  // the thicker community and street outlines, and the district's outline is drawn last.
  const DRAWINGS = [
    { level: "district", pane: "land", z: 405,
      style: { stroke: false, fillColor: "#ffffff", fillOpacity: 0.7 } },
    { level: "grid", pane: "grid", z: 420,
      style: { color: "#c2410c", weight: 0.8, opacity: 0.9,
        fillColor: "#c2410c", fillOpacity: 0.05 } },
    { level: "community", pane: "community", z: 430,
      style: { color: "#0b5cad", weight: 2, opacity: 0.8, fill: false } },
    { level: "street", pane: "street", z: 440,
      style: { color: "#6a1b9a", weight: 3, opacity: 0.85, fill: false } },
    { level: "district", pane: "district", z: 450,
      style: { color: "#0d2a4a", weight: 4, opacity: 0.9, fill: false } },
  ];
  const SELECTED = { color: "#b00020", weight: 3, fillColor: "#f0a500", fillOpacity: 0.35 };

  function message(name, values) {
    let text = data["msg" + name] || "";
    for (const [key, value] of Object.entries(values || {})) {
      text = text.split("{" + key + "}").join(String(value));
    }
    return text;
  }

  function capitalized(word) {
    return word.charAt(0).toUpperCase() + word.slice(1);
  }

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  // --- talking to the API ----------------------------------------------------------------------

  class HttpError extends Error {
    constructor(status) {
      super("HTTP " + status);
      this.status = status;
    }
  }

  async function getJSON(path, signal) {
    const response = await fetch(api + path, {
      credentials: "same-origin",
      headers: { Accept: "application/geo+json, application/json" },
      signal: signal,
    });
    if (!response.ok) {
      throw new HttpError(response.status);
    }
    return response.json();
  }

  function divisionsPath(level, limit, bbox) {
    const query = new URLSearchParams({ level: level, limit: String(limit) });
    if (bbox) {
      query.set("bbox", bbox);
    }
    return "/divisions?" + query.toString();
  }

  function failure(error) {
    if (error && error.name === "AbortError") {
      return;
    }
    const denied = error instanceof HttpError && (error.status === 401 || error.status === 403);
    say(denied ? message("NoAccess") : message("Failed"));
  }

  // --- safe text for tooltips and popups (names come from imported files: never HTML) ---------

  function textElement(tag, className, text) {
    const node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    node.textContent = text;
    return node;
  }

  function gridLabel(properties) {
    const box = document.createElement("div");
    box.className = "map-tip";
    box.appendChild(textElement("strong", "", properties.name || ""));
    box.appendChild(textElement("span", "map-code", properties.code || ""));
    return box;
  }

  // --- the map ---------------------------------------------------------------------------------

  let map = null;
  const layers = {}; // level → the group the layer switcher turns on and off
  const drawings = {}; // level → its GeoJSON layers (the district has a fill and an outline)
  const gridsByCode = new Map();
  let selectedCode = null;
  const inFlight = {};

  function makeDrawing(drawing) {
    const pane = map.createPane(drawing.pane + "Pane");
    pane.style.zIndex = String(drawing.z);
    const interactive = drawing.level === "grid";
    if (!interactive) {
      pane.style.pointerEvents = "none"; // clicks pass through to the grids and the map
    }
    const options = { pane: drawing.pane + "Pane", interactive: interactive, style: drawing.style };
    if (interactive) {
      options.style = function (feature) {
        return feature.properties.code === selectedCode
          ? Object.assign({}, drawing.style, SELECTED)
          : drawing.style;
      };
      options.onEachFeature = function (feature, layer) {
        gridsByCode.set(feature.properties.code, layer);
        layer.bindTooltip(gridLabel(feature.properties), { sticky: true, direction: "top" });
        layer.on("click", function (event) {
          L.DomEvent.stop(event);
          layer.closeTooltip();
          locate(event.latlng);
        });
      };
    }
    return L.geoJSON(null, options);
  }

  function show(level, collection) {
    if (level === "grid") {
      gridsByCode.clear();
    }
    for (const drawing of drawings[level]) {
      drawing.clearLayers();
      if (collection) {
        drawing.addData(collection);
      }
    }
  }

  function layerName(level) {
    // The names come from the catalogue; Leaflet shows layer names as HTML, so build it safely.
    const name = textElement("span", "map-layer-name", data["layer" + capitalized(level)] || level);
    return '<span class="map-swatch map-swatch-' + level + '" aria-hidden="true"></span>' +
      name.outerHTML;
  }

  function viewBbox() {
    const bounds = map.getBounds().pad(0.15);
    const clamp = function (value, low, high) {
      return Math.min(high, Math.max(low, value));
    };
    return [
      clamp(bounds.getWest(), -180, 180),
      clamp(bounds.getSouth(), -90, 90),
      clamp(bounds.getEast(), -180, 180),
      clamp(bounds.getNorth(), -90, 90),
    ].map(function (v) {
      return v.toFixed(6);
    }).join(",");
  }

  async function loadInView(level, minZoom, limit) {
    if (inFlight[level]) {
      inFlight[level].abort();
      delete inFlight[level];
    }
    if (!map.hasLayer(layers[level]) || map.getZoom() < minZoom) {
      show(level, null);
      return { count: 0, truncated: false };
    }
    const controller = new AbortController();
    inFlight[level] = controller;
    const collection = await getJSON(divisionsPath(level, limit, viewBbox()), controller.signal);
    if (inFlight[level] !== controller) {
      throw new DOMException("superseded", "AbortError");
    }
    delete inFlight[level];
    show(level, collection);
    return { count: collection.features.length, truncated: collection.features.length >= limit };
  }

  let refreshing = 0;

  async function refresh() {
    const ticket = ++refreshing;
    try {
      const [communities, grids] = await Promise.all([
        loadInView("community", COMMUNITY_MIN_ZOOM, COMMUNITY_LIMIT),
        loadInView("grid", GRID_MIN_ZOOM, GRID_LIMIT),
      ]);
      if (ticket !== refreshing) {
        return;
      }
      const parts = [];
      if (grids.count) {
        parts.push(message("ShownGrids", { count: grids.count }));
      } else if (communities.count) {
        parts.push(message("ShownCommunities", { count: communities.count }));
      }
      if (grids.truncated) {
        parts.push(message("Truncated", { count: GRID_LIMIT }));
      } else if (!grids.count && communities.truncated) {
        parts.push(message("Truncated", { count: COMMUNITY_LIMIT }));
      }
      if (map.hasLayer(layers.grid) && map.getZoom() < GRID_MIN_ZOOM) {
        parts.push(message("ZoomForGrids"));
      }
      say(parts.join(separator));
      element.dataset.state = "ready";
    } catch (error) {
      if (ticket === refreshing) {
        failure(error);
      }
    }
  }

  // --- what is here? ---------------------------------------------------------------------------

  let locateTicket = 0;

  function select(code) {
    const previous = selectedCode;
    selectedCode = code;
    for (const value of [previous, code]) {
      const layer = value && gridsByCode.get(value);
      if (layer) {
        drawings.grid[0].resetStyle(layer);
        if (value === code) {
          layer.bringToFront();
        }
      }
    }
  }

  function describe(found) {
    const rows = [];
    if (found.grid_id) {
      rows.push([message("Grid"), (found.grid_name || "") + " (" + found.grid_id + ")"]);
    }
    for (const level of ["community", "street", "district"]) {
      const place = found[level];
      if (place) {
        rows.push([message(capitalized(level)), place.name + " (" + place.code + ")"]);
      }
    }
    return rows;
  }

  function popupContent(rows, fallback) {
    const box = document.createElement("div");
    box.className = "map-popup";
    if (!rows.length) {
      box.appendChild(textElement("p", "", fallback));
      return box;
    }
    const list = document.createElement("dl");
    for (const [label, value] of rows) {
      list.appendChild(textElement("dt", "", label));
      list.appendChild(textElement("dd", "", value));
    }
    box.appendChild(list);
    return box;
  }

  async function locate(latlng) {
    const ticket = ++locateTicket;
    const popup = L.popup({ maxWidth: 360 })
      .setLatLng(latlng)
      .setContent(popupContent([], message("Locating")))
      .openOn(map);
    locateOut.textContent = message("Locating");
    locateOut.dataset.state = "pending";
    const lon = L.Util.wrapNum(latlng.lng, [-180, 180], true).toFixed(7);
    const lat = Math.max(-90, Math.min(90, latlng.lat)).toFixed(7);
    try {
      const found = await getJSON("/locate?" + new URLSearchParams({ lon: lon, lat: lat }));
      if (ticket !== locateTicket) {
        return;
      }
      const rows = describe(found);
      popup.setContent(popupContent(rows, message("Outside")));
      locateOut.textContent = rows.length
        ? rows.map(function (row) { return row[0] + colon + row[1]; }).join(" · ")
        : message("Outside");
      locateOut.dataset.grid = found.grid_id || "";
      locateOut.dataset.state = "done";
      select(found.grid_id || null);
    } catch (error) {
      if (ticket === locateTicket) {
        popup.setContent(popupContent([], message("LocateFailed")));
        locateOut.textContent = message("LocateFailed");
        locateOut.dataset.state = "failed";
      }
    }
  }

  // --- start -----------------------------------------------------------------------------------

  function showEmpty(text) {
    element.classList.add("map-empty");
    element.dataset.state = "empty";
    element.textContent = "";
    element.appendChild(textElement("p", "", text));
    locateOut.hidden = true;
    say("");
  }

  function boundsOf(collections) {
    let bounds = null;
    for (const collection of collections) {
      if (collection && collection.features.length) {
        const extent = L.geoJSON(collection).getBounds();
        bounds = bounds ? bounds.extend(extent) : extent;
      }
    }
    return bounds;
  }

  function legendTitle() {
    return textElement("div", "map-legend-title", message("Legend"));
  }

  async function start() {
    let district;
    let street;
    let sample = null;
    try {
      [district, street] = await Promise.all([
        getJSON(divisionsPath("district", 100)),
        getJSON(divisionsPath("street", STREET_LIMIT)),
      ]);
      if (!district.features.length && !street.features.length) {
        // Only communities or grids imported (or nothing at all): centre on whatever there is.
        const [community, grid] = await Promise.all([
          getJSON(divisionsPath("community", 1)),
          getJSON(divisionsPath("grid", 1)),
        ]);
        sample = community.features.length ? community : grid;
        if (!sample.features.length) {
          showEmpty(message("Empty"));
          return;
        }
      }
    } catch (error) {
      failure(error);
      element.dataset.state = "failed";
      return;
    }

    map = L.map(element, { minZoom: 3, maxZoom: 19, zoomControl: false });
    L.control.zoom({ zoomInTitle: message("ZoomIn"), zoomOutTitle: message("ZoomOut") }).addTo(map);
    map.attributionControl.setPrefix("Leaflet");
    for (const level of LEVELS) {
      layers[level] = L.layerGroup();
      drawings[level] = [];
    }
    if (data.tileUrl) {
      DRAWINGS[0].style.fillOpacity = 0.15; // let the tiles show through the district's "land"
    }
    for (const drawing of DRAWINGS) {
      const layer = makeDrawing(drawing);
      drawings[drawing.level].push(layer);
      layers[drawing.level].addLayer(layer);
    }
    if (data.tileUrl) {
      const credit = document.createElement("span");
      credit.textContent = data.tileAttribution || "";
      L.tileLayer(data.tileUrl, { maxZoom: 19, attribution: credit.innerHTML }).addTo(map);
    }
    show("district", district);
    show("street", street);
    const bounds = boundsOf([district, street, sample]);
    map.fitBounds(bounds, { padding: [12, 12] });
    for (const level of LEVELS) {
      layers[level].addTo(map);
    }

    const overlays = {};
    for (const level of LEVELS) {
      overlays[layerName(level)] = layers[level];
    }
    const control = L.control.layers(null, overlays, { collapsed: false, position: "topright" });
    control.addTo(map);
    const list = control.getContainer().querySelector(".leaflet-control-layers-list");
    if (list) {
      list.insertBefore(legendTitle(), list.firstChild);
    }
    L.control.scale({ imperial: false }).addTo(map);

    map.on("moveend", refresh);
    map.on("overlayadd overlayremove", refresh);
    map.on("click", function (event) {
      locate(event.latlng);
    });
    map.on("keydown", function (event) {
      const key = event.originalEvent;
      if (key.key === "Enter" && key.target === element) {
        locate(map.getCenter());
      }
    });
    await refresh();
  }

  start();
})();
