/* A device's page: what it is and where, whether it is online, and one card per datastream with
 * its latest value, unit and online state, and an ECharts line of the hourly mean with the
 * min–max band behind it over the last 24 hours or 7 days.
 * Data: GET /api/v1/things/{key} (datastreams with latest value and online), /api/v1/metrics
 * (names and unit symbols) and one GET /api/v1/timeseries for all the datastreams
 * (interval=1h, functions=avg,min,max). Text from the store is set as text, never HTML.
 */
(function () {
  "use strict";

  const root = document.getElementById("device");
  if (!root || !window.cityops || !window.echarts) {
    return;
  }
  const { msg, api, el, when, problemText } = window.cityops;
  const english = document.documentElement.lang === "en";
  const message = document.getElementById("device-message");
  const HOURS = { "24h": 24, "7d": 24 * 7 };
  const BLUE = "#0b5cad";
  const charts = new Map();
  let streams = [];
  let metrics = new Map();
  let ticket = 0;

  window.addEventListener("resize", function () {
    for (const chart of charts.values()) {
      chart.resize();
    }
  });

  function number(value) {
    return value === null || value === undefined ? "–" : String(Number(value.toFixed(3)));
  }

  function onlineBadge(online) {
    const badge = el("span", { class: "state state-" + (online ? "online" : "offline") });
    badge.append(el("span", { class: "dot", "aria-hidden": "true" }),
      el("span", {}, msg(online ? "device.online" : "device.offline")));
    return badge;
  }

  function fact(list, name, value) {
    const shown = value === null || value === undefined || value === "" ? "–" : value;
    list.append(el("dt", {}, name), el("dd", {}, shown));
  }

  function metricOf(stream) {
    const metric = metrics.get(stream.metric) || {};
    return {
      name: (english ? metric.name_en : metric.name_zh) || stream.name || stream.metric,
      unit: metric.symbol || stream.unit || "",
    };
  }

  function showDevice(thing) {
    document.getElementById("device-name").textContent = thing.name + " (" + thing.key + ")";
    document.title = thing.name + " · " + document.title;
    document.getElementById("device-online").replaceChildren(onlineBadge(thing.online));
    const list = document.getElementById("device-facts");
    list.replaceChildren();
    fact(list, msg("device.key"), thing.key);
    fact(list, msg("device.name"), thing.name);
    fact(list, msg("device.description"), thing.description);
    const place = el("dd", { id: "device-place" });
    list.append(el("dt", {}, msg("device.place")), place);
    showPlace(place, thing);
    fact(list, msg("device.point"), thing.lon === null || thing.lon === undefined
      ? null : thing.lon.toFixed(6) + ", " + thing.lat.toFixed(6));
    const properties = Object.entries(thing.properties || {});
    fact(list, msg("device.properties"),
      properties.map(([name, value]) => name + " = " + value).join("; "));
    fact(list, msg("device.streams"), String(thing.datastreams.length));
  }

  // The divisions by name (district › street › community), then the grid's code.
  async function showPlace(cell, thing) {
    const codes = [thing.district_code, thing.street_code, thing.community_code];
    cell.textContent = codes.concat([thing.grid_code]).filter(Boolean).join(" › ") || "–";
    const names = await Promise.all(codes.map((code) => (code
      ? api("/api/v1/geo/divisions/" + encodeURIComponent(code))
        .then((found) => found.properties.name, () => code)
      : null)));
    const shown = names.filter(Boolean);
    if (shown.length || thing.grid_code) {
      cell.textContent = shown.concat(thing.grid_code ? [msg("device.grid", {
        code: thing.grid_code })] : []).join(" › ");
    }
  }

  function streamCard(stream, index) {
    const metric = metricOf(stream);
    const card = el("section", { class: "card stream", "data-stream": stream.key,
      "aria-labelledby": "stream-" + index });
    card.append(el("h2", { id: "stream-" + index }, metric.name));
    const latest = el("p", { class: "stream-latest" });
    const value = stream.latest ? number(stream.latest.value) : "–";
    latest.append(
      el("strong", { class: "stream-value", "data-latest": value }, value),
      el("span", { class: "stream-unit" }, metric.unit),
      onlineBadge(stream.online),
      el("span", { class: "muted" }, stream.latest
        ? msg("device.latest_at", { time: when(stream.latest.time) })
        : msg("device.no_reading")),
    );
    card.append(latest, el("p", { class: "muted code" }, stream.key));
    const chart = el("div", { class: "chart", id: "chart-" + index, role: "img",
      "aria-label": msg("device.chart", { name: metric.name }) });
    card.append(chart);
    return card;
  }

  function tooltipBox(title, lines) {
    const box = el("div");
    box.append(el("strong", {}, title));
    for (const line of lines) {
      box.append(el("br"), document.createTextNode(line));
    }
    return box;
  }

  function draw(chart, stream, points, start, end) {
    const metric = metricOf(stream);
    const at = (p) => p.time;
    const band = (p) => (p.min === null || p.max === null || p.min === undefined ||
      p.max === undefined ? null : p.max - p.min);
    chart.setOption({
      backgroundColor: "transparent",
      title: points.length ? { show: false } : { text: msg("device.empty"), left: "center",
        top: "middle", textStyle: { fontSize: 14 } },
      grid: { left: 8, right: 16, top: 30, bottom: 8, containLabel: true },
      legend: { top: 0, data: [msg("device.avg"), msg("device.band")] },
      tooltip: {
        trigger: "axis",
        formatter: function (items) {
          const point = points[items[0].dataIndex];
          return tooltipBox(when(point.time), [
            msg("device.avg") + ": " + number(point.avg) + " " + metric.unit,
            msg("device.min") + ": " + number(point.min) + " " + metric.unit,
            msg("device.max") + ": " + number(point.max) + " " + metric.unit,
          ]);
        },
      },
      xAxis: { type: "time", min: start.getTime(), max: end.getTime(),
        axisLabel: { hideOverlap: true } },
      yAxis: { type: "value", scale: true, name: metric.unit },
      series: [
        { name: msg("device.min"), type: "line", stack: "band", symbol: "none",
          lineStyle: { opacity: 0 }, data: points.map((p) => [at(p), p.min]) },
        { name: msg("device.band"), type: "line", stack: "band", symbol: "none",
          lineStyle: { opacity: 0 }, areaStyle: { color: "rgba(11, 92, 173, 0.18)" },
          itemStyle: { color: "rgba(11, 92, 173, 0.35)" },
          data: points.map((p) => [at(p), band(p)]) },
        { name: msg("device.avg"), type: "line", symbol: "circle", symbolSize: 4,
          lineStyle: { width: 2, color: BLUE }, itemStyle: { color: BLUE },
          data: points.map((p) => [at(p), p.avg]) },
      ],
    }, true);
  }

  async function loadCharts() {
    const mine = ++ticket;
    const range = root.dataset.range;
    root.dataset.state = "loading";
    const hour = 3600 * 1000;
    const end = new Date(Math.ceil(Date.now() / hour) * hour);
    const start = new Date(end.getTime() - HOURS[range] * hour);
    const params = new URLSearchParams({ interval: "1h", functions: "avg,min,max",
      start: start.toISOString(), end: end.toISOString() });
    for (const stream of streams) {
      params.append("datastream", stream.key);
    }
    try {
      const found = streams.length ? await api("/api/v1/timeseries?" + params) : { series: [] };
      if (mine !== ticket) {
        return;
      }
      const byKey = new Map(found.series.map((s) => [s.key, s.points]));
      streams.forEach(function (stream, index) {
        draw(charts.get(index), stream, byKey.get(stream.key) || [], start, end);
      });
      message.textContent = streams.length ? "" : msg("device.no_streams");
      root.dataset.state = "ready";
    } catch (error) {
      if (mine === ticket) {
        message.textContent = problemText(error);
        root.dataset.state = "failed";
      }
    }
  }

  for (const button of root.querySelectorAll(".range button")) {
    button.addEventListener("click", function () {
      root.dataset.range = button.dataset.range;
      for (const other of root.querySelectorAll(".range button")) {
        other.setAttribute("aria-pressed", other === button ? "true" : "false");
      }
      loadCharts();
    });
  }

  async function load() {
    try {
      const [thing, catalogue] = await Promise.all([
        api("/api/v1/things/" + encodeURIComponent(root.dataset.key)),
        api("/api/v1/metrics").catch(() => []),
      ]);
      metrics = new Map(catalogue.map((m) => [m.key, m]));
      streams = thing.datastreams;
      showDevice(thing);
      const box = document.getElementById("streams");
      box.replaceChildren(...streams.map(streamCard));
      streams.forEach(function (stream, index) {
        charts.set(index, echarts.init(document.getElementById("chart-" + index)));
      });
      root.dataset.online = thing.online ? "true" : "false";
    } catch (error) {
      message.textContent = error.status === 404
        ? msg("device.not_found", { device: root.dataset.key }) : problemText(error);
      root.dataset.state = "failed";
      return;
    }
    await loadCharts();
  }

  load();
})();
