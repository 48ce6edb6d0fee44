/* The monitoring overview's map (Leaflet, vendored): the AQI of each air station as a round
 * badge in the HJ 633 level colour (grey when the AQI is not available), or — grouped by street
 * or district — the divisions shaded in the colour of their AQI (a division's concentrations are
 * the means of its stations', /api/v1/indices/air?group_by=). Overlays: noise monitors (green
 * when they met their GB 3096 limits yesterday, red when not), water stations (their GB 3838
 * class colour) and traffic links (their level colour). monitor.js creates it with the page's
 * root and helpers and hands it each refresh's data. Names are set as text, never HTML.
 */
(function () {
  "use strict";

  const NA = "#B0BEC5";
  const OK = "#2e7d32";
  const OVER = "#c62828";

  window.cityopsMonitorMap = function (root, tools) {
    const { msg, api, el } = tools;
    const data = root.dataset;
    const english = document.documentElement.lang === "en";
    const map = L.map("monitor-map", { zoomSnap: 0.25, maxZoom: 19,
      attributionControl: Boolean(data.tileUrl) });
    if (data.tileUrl) {
      L.tileLayer(data.tileUrl, { attribution: data.tileAttribution, maxZoom: 19 }).addTo(map);
    }
    const state = { group: "station", air: null, fitted: false, request: 0, reading: false,
      waiting: null };

    // Popups and tooltips, from text nodes; the title may link to the device page.
    function box(title, lines, link) {
      const element = el("div", { class: "map-box" });
      const heading = link ? el("a", { href: link }, title) : el("strong", {}, title);
      element.append(heading);
      for (const line of lines.filter(Boolean)) {
        element.append(el("br"), document.createTextNode(line));
      }
      return element;
    }
    const deviceLink = (key) => "/devices/" + encodeURIComponent(key);

    // The districts' outline: where the city is, with or without a tile server.
    const outline = L.geoJSON(null, { interactive: false,
      style: { color: "#0d2a4a", weight: 2, fill: false } }).addTo(map);
    const shades = L.geoJSON(null, {
      style: function () {
        return { color: "#0d2a4a", weight: 1, fillOpacity: 0.65, fillColor: NA };
      },
    }).addTo(map);
    const air = L.layerGroup().addTo(map);
    const overlays = { noise: L.layerGroup(), water: L.layerGroup(), traffic: L.layerGroup() };
    const control = {};
    for (const name of Object.keys(overlays)) {
      overlays[name].addTo(map);
      control[msg("monitor.map.layer." + name)] = overlays[name];
    }
    L.control.layers(null, control, { collapsed: false }).addTo(map);

    function category(aqi) {
      if (!aqi || aqi.aqi === null || aqi.aqi === undefined) {
        return msg("monitor.aqi.na");
      }
      return (english ? aqi.category_en : aqi.category) || msg("monitor.aqi.level" + aqi.level);
    }

    function aqiLines(item) {
      const aqi = item.aqi || {};
      const lines = [aqi.aqi === null || aqi.aqi === undefined
        ? msg("monitor.aqi.na")
        : "AQI " + aqi.aqi + " · " + category(aqi)];
      if ((aqi.primary_pollutants || []).length) {
        lines.push(msg("monitor.popup.primary") + ": " + aqi.primary_pollutants.join("、"));
      }
      return lines;
    }

    // --- air: one badge per station -----------------------------------------------------------

    function stationBadge(item) {
      const aqi = item.aqi || {};
      const known = aqi.aqi !== null && aqi.aqi !== undefined;
      const badge = el("span", {
        class: "aqi-badge aqi-" + (known ? aqi.level : "na"),
        "data-station": item.station,
        "data-level": known ? aqi.level : "",
        "data-color": item.color || "",
      }, known ? aqi.aqi : "–");
      badge.style.backgroundColor = item.color || NA;
      const marker = L.marker([item.lat, item.lon], {
        icon: L.divIcon({ html: badge, className: "aqi-marker", iconSize: L.point(34, 34) }),
        title: item.name + " · " + aqiLines(item)[0],
        zIndexOffset: known ? 1000 * aqi.level : 0,  // the worst on top where badges overlap
        riseOnHover: true,
      });
      marker.bindPopup(() => box(item.name, aqiLines(item).concat([item.station]),
        deviceLink(item.station)));
      return marker;
    }

    function drawStations(found) {
      air.clearLayers();
      for (const item of found.items) {
        if (item.lat !== null && item.lon !== null) {
          air.addLayer(stationBadge(item));
        }
      }
      root.dataset.stations = String(air.getLayers().length);
    }

    // --- air: divisions shaded by their AQI -----------------------------------------------------

    async function drawDivisions(group, ticket) {
      const [found, shapes] = await Promise.all([
        api("/api/v1/indices/air?report=hourly&group_by=" + group),
        api("/api/v1/geo/divisions?level=" + group),
      ]);
      if (ticket !== state.request) {
        return;
      }
      const byCode = new Map(found.items.map((item) => [item.division, item]));
      shades.clearLayers();
      shades.addData(shapes);
      shades.eachLayer(function (layer) {
        const properties = layer.feature.properties;
        const item = byCode.get(properties.code);
        const color = item ? item.color || NA : "#eceff1";
        layer.setStyle({ fillColor: color, fillOpacity: item ? 0.7 : 0.35 });
        const path = layer.getElement();
        if (path) {
          path.dataset.code = properties.code;
          path.dataset.color = item ? item.color || "" : "";
        }
        layer.bindTooltip(() => box(properties.name, item
          ? aqiLines(item).concat([msg("monitor.popup.stations") + ": " + item.stations.length])
          : [msg("monitor.map.no_station")]), { sticky: true });
      });
      root.dataset.divisions = String(byCode.size);
    }

    // --- overlays: noise, water, traffic --------------------------------------------------------

    function shape(kind, item, color, lines) {
      const inner = el("span", { "data-station": item.station, "data-color": color });
      inner.style.backgroundColor = color;
      const icon = L.divIcon({ className: "shape-marker shape-" + kind, iconSize: L.point(14, 14),
        html: inner });
      const marker = L.marker([item.lat, item.lon], { icon: icon, title: item.name });
      marker.bindPopup(() => box(item.name, lines, deviceLink(item.station)));
      return marker;
    }

    function noiseLines(item) {
      const lines = [];
      const periods = [["ld", "day"], ["ln", "night"]];
      for (const [field, period] of periods) {
        if (item[field] !== null && item[field] !== undefined) {
          const over = item.exceedance && item.exceedance[period];
          lines.push(msg("monitor.noise." + period) + " " + item[field] + " dB(A)" +
            (over ? " · " + msg("monitor.noise.over", { db: over }) : ""));
        }
      }
      return lines.length ? lines : [item.reason || msg("monitor.na")];
    }

    function drawOverlays(noise, water, traffic) {
      overlays.noise.clearLayers();
      for (const item of noise ? noise.items : []) {
        const assessed = item.assessment && item.assessment.complies !== null &&
          item.assessment.complies !== undefined;
        const color = !assessed ? NA : item.assessment.complies ? OK : OVER;
        overlays.noise.addLayer(shape("noise", item, color, noiseLines(item)));
      }
      overlays.water.clearLayers();
      for (const item of water ? water.items : []) {
        const assessment = item.assessment || {};
        const lines = assessment.class
          ? [msg("monitor.water.class", { name: assessment.class }) + " · " +
            ((english ? assessment.status_en : assessment.status) || "")]
          : [item.reason || msg("monitor.na")];
        overlays.water.addLayer(shape("water", item, item.color || NA, lines));
      }
      overlays.traffic.clearLayers();
      for (const item of traffic ? traffic.links : []) {
        const level = item.level || null;
        const lines = level
          ? [(english ? level.name_en : level.name) + " · " +
            msg("monitor.traffic.speed", { speed: Math.round(item.speed_kmh) })]
          : [item.reason || msg("monitor.na")];
        overlays.traffic.addLayer(shape("traffic", item, level ? level.hex : NA, lines));
      }
    }

    // --- putting it together --------------------------------------------------------------------

    async function show(ticket) {
      if (state.group === "station") {
        shades.clearLayers();
        if (state.air) {
          drawStations(state.air);
        }
        root.dataset.group = "station";
        return;
      }
      air.clearLayers();
      await drawDivisions(state.group, ticket);
      if (ticket === state.request) {
        root.dataset.group = state.group;
      }
    }

    async function fit() {
      if (state.fitted) {
        return;
      }
      state.fitted = true;
      try {
        outline.addData(await api("/api/v1/geo/divisions?level=district"));
      } catch (error) {
        /* no geography to read: the stations give the view */
      }
      let bounds = L.latLngBounds([]);
      if (outline.getLayers().length) {
        bounds = outline.getBounds();
      } else {
        for (const group of [air, ...Object.values(overlays)]) {
          group.eachLayer((layer) => bounds.extend(layer.getLatLng()));
        }
      }
      if (bounds.isValid()) {
        map.fitBounds(bounds, { padding: [12, 12] });
      } else {
        map.setView([35, 105], 4);  // nothing to place: China
      }
    }

    // A refresh must not pull a popup from under its reader: while one is open the map keeps
    // what it shows, and takes the newest data when the popup closes.
    map.on("popupopen", function () { state.reading = true; });
    map.on("popupclose", function () {
      state.reading = false;
      if (state.waiting) {
        const found = state.waiting;
        state.waiting = null;
        draw(found);
      }
    });

    // Each refresh's data: the stations' AQI and the overlays' indices.
    async function draw(found) {
      if (state.reading) {
        state.waiting = found;
        return;
      }
      const ticket = ++state.request;
      root.dataset.map = "loading";
      state.air = found.air;
      drawOverlays(found.noise, found.water, found.traffic);
      await show(ticket);
      await fit();
      if (ticket === state.request) {
        root.dataset.map = "ready";
      }
    }

    async function group(value) {
      const ticket = ++state.request;
      state.group = value;
      root.dataset.map = "loading";
      try {
        await show(ticket);
        if (ticket === state.request) {
          root.dataset.map = "ready";
          document.getElementById("map-note").textContent = "";
        }
      } catch (error) {
        if (ticket === state.request) {
          root.dataset.map = "failed";
          document.getElementById("map-note").textContent = msg("monitor.failed");
        }
      }
    }

    return { draw: draw, group: group };
  };
})();
