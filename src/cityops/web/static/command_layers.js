/* The command center's map layers: components (部件) and places (POIs, addresses) of the
 * current view, loaded only while their overlay is on and the map is zoomed in enough
 * (/api/v1/situation/components and /places, a box of at most 0.1° a side). command.js creates
 * them with its map, root element and helpers. Names are shown as text, never HTML.
 */
(function () {
  "use strict";

  window.cityopsCommandLayers = function (map, root, helpers) {
    const data = root.dataset;
    const { box, note, fill, getJSON } = helpers;
    const LAYER_ZOOM = Number(data.mapLayerZoom) || 16;
    const MAX_BOX = 0.099;  // the layers' box, in degrees a side (the API allows 0.1)

    const overlays = { components: L.layerGroup(), places: L.layerGroup() };
    const overlayNames = { components: data.msgLayerComponents, places: data.msgLayerPlaces };
    const renderer = L.svg({ pane: "layers" });
    const control = {};
    for (const name of Object.keys(overlays)) {
      control[overlayNames[name]] = overlays[name];
    }
    L.control.layers(null, control, { collapsed: false }).addTo(map);

    function layerMarker(name, item) {
      const component = name === "components";
      const marker = L.circleMarker([item.lat, item.lon], {
        renderer: renderer, pane: "layers", radius: component ? 4 : 6, weight: 1.5,
        color: component ? "#3e2723" : "#004d40", fillColor: component ? "#a1887f" : "#4db6ac",
        fillOpacity: 0.9, className: component ? "map-component" : "map-place",
      });
      marker.bindTooltip(function () {
        return component
          ? box(item.name, [data.msgPopupClass + ": " + (item.class_name || item.class_code),
            data.msgPopupStatus + ": " + item.status])
          : box(item.name, []);
      });
      return marker;
    }

    function viewBox() {  // the map's view, cut to the largest box the API serves
      const bounds = map.getBounds();
      const middle = bounds.getCenter();
      const halfLon = Math.min(bounds.getEast() - bounds.getWest(), MAX_BOX) / 2;
      const halfLat = Math.min(bounds.getNorth() - bounds.getSouth(), MAX_BOX) / 2;
      return [middle.lng - halfLon, middle.lat - halfLat, middle.lng + halfLon, middle.lat + halfLat]
        .map(function (value) { return value.toFixed(6); }).join(",");
    }

    let layerRequest = null;
    let layerTimer = null;

    async function loadLayers() {
      if (layerRequest) {
        layerRequest.abort();
        layerRequest = null;
      }
      const wanted = Object.keys(overlays).filter(function (n) { return map.hasLayer(overlays[n]); });
      for (const name of Object.keys(overlays)) {
        overlays[name].clearLayers();
      }
      root.dataset.layers = wanted.length ? "loading" : "off";
      if (!wanted.length || map.getZoom() < LAYER_ZOOM) {
        note("layers", wanted.length ? data.msgZoomIn : "");
        if (wanted.length) {
          root.dataset.layers = "zoom";
        }
        return;
      }
      const request = (layerRequest = new AbortController());
      const bbox = "bbox=" + viewBox();
      const problems = [];
      await Promise.all(wanted.map(async function (name) {
        try {
          const found = await getJSON("/api/v1/situation/" + name + "?" + bbox, request.signal);
          if (request === layerRequest) {
            overlays[name].clearLayers();
            for (const item of found.items) {
              overlays[name].addLayer(layerMarker(name, item));
            }
            if (found.truncated) {
              problems.push(fill(data.msgLayerTruncated,
                { layer: overlayNames[name], shown: found.count }));
            }
          }
        } catch (error) {
          problems.push(fill(data.msgLayerFailed, { layer: overlayNames[name] }));
        }
      }));
      if (request === layerRequest) {
        note("layers", problems.join(" · "));
        root.dataset.layers = "ready";
      }
    }

    map.on("overlayadd overlayremove", loadLayers);
    map.on("moveend", function () {
      root.dataset.zoom = String(map.getZoom());
      clearTimeout(layerTimer);
      if (Object.values(overlays).some(function (layer) { return map.hasLayer(layer); })) {
        layerTimer = setTimeout(loadLayers, 250);
      }
    });
  };
})();
