/* The command center (大屏): cards, one map with drill-down, charts and the live feed.
 *
 * Everything comes from this server's API: /api/v1/situation (cards and open cases per child
 * division), /api/v1/situation/charts (trend, top classes, department leaderboard, channels) of
 * the same scope and period, /api/v1/geo/divisions (shapes) and the event stream. The charts
 * follow the light or dark theme (ECharts' own "dark" theme on a transparent background).
 * Text from the store (names) is always set as text, never as HTML.
 */
(function () {
  "use strict";

  const root = document.getElementById("command");
  if (!root || !window.L || !window.echarts) {
    return;
  }
  const data = root.dataset;
  const state = { trail: [], period: "day" };
  const status = document.getElementById("command-status");
  const FEED_LENGTH = 30;
  const SHADES = ["#e8f1fb", "#9ecae1", "#4292c6", "#08519c"];

  // --- talking to the API ----------------------------------------------------------------------

  async function getJSON(path) {
    const response = await fetch(path, {
      credentials: "same-origin",
      headers: { Accept: "application/json, application/geo+json" },
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

  // --- the map ---------------------------------------------------------------------------------

  const map = L.map("command-map", { zoomSnap: 0.25, attributionControl: Boolean(data.tileUrl) });
  if (data.tileUrl) {
    L.tileLayer(data.tileUrl, { attribution: data.tileAttribution, maxZoom: 19 }).addTo(map);
  }
  const shapes = L.geoJSON(null, {
    style: function () {
      return { color: "#0d2a4a", weight: 1.5, fillOpacity: 0.7, fillColor: SHADES[0] };
    },
    onEachFeature: function (feature, layer) {
      layer.on("click", function () {
        drillInto(feature.properties.code, feature.properties.name);
      });
      layer.bindTooltip(function () {
        const box = document.createElement("div");
        const counts = layer.counts || { open: 0, red: 0 };
        const name = document.createElement("strong");
        name.textContent = feature.properties.name + " ";
        box.appendChild(name);
        box.appendChild(
          document.createTextNode(
            data.msgOpen + " " + counts.open + " · " + data.msgOverdue + " " + counts.red,
          ),
        );
        return box;
      }, { sticky: true });
    },
  }).addTo(map);

  function shade(open, highest) {
    if (!open) {
      return SHADES[0];
    }
    const share = open / Math.max(highest, 1);
    return share > 0.66 ? SHADES[3] : share > 0.33 ? SHADES[2] : SHADES[1];
  }

  async function drawMap(children) {
    const code = division();
    const path = code
      ? "/api/v1/geo/divisions?parent_code=" + encodeURIComponent(code)
      : "/api/v1/geo/divisions?level=district";
    const collection = await getJSON(path);
    const counts = new Map(children.map(function (c) { return [c.code, c]; }));
    const highest = Math.max(0, ...children.map(function (c) { return c.open; }));
    shapes.clearLayers();
    shapes.addData(collection);
    shapes.eachLayer(function (layer) {
      const found = counts.get(layer.feature.properties.code) || { open: 0, red: 0 };
      layer.counts = found;
      layer.setStyle({ fillColor: shade(found.open, highest), weight: found.red ? 3 : 1.5,
        color: found.red ? "#c62828" : "#0d2a4a" });
      if (layer.getElement()) {
        layer.getElement().dataset.code = layer.feature.properties.code;
      }
    });
    if (collection.features.length) {
      map.fitBounds(shapes.getBounds(), { padding: [12, 12] });
    }
  }

  // --- charts ----------------------------------------------------------------------------------

  function storedDark() {
    try {
      return localStorage.getItem("cityops-theme") === "dark";
    } catch (ignored) {
      return false;
    }
  }

  // The charts start in the stored theme (a theme set before the first option does not hold).
  let chartTheme = storedDark() ? "dark" : "default";
  function chartIn(id) {
    return echarts.init(document.getElementById(id), chartTheme);
  }
  const charts = {
    trend: chartIn("chart-trend"),
    classes: chartIn("chart-classes"),
    departments: chartIn("chart-departments"),
    channels: chartIn("chart-channels"),
  };
  const RED = "#c62828";
  window.addEventListener("resize", function () {
    for (const chart of Object.values(charts)) {
      chart.resize();
    }
  });

  function channelName(code) {
    const key = "channel" + code.split("_").map(function (part) {
      return part.charAt(0).toUpperCase() + part.slice(1);
    }).join("");
    return data[key] || code;
  }

  // An option every chart starts from: the page's background, and a notice when there is no data.
  function base(empty) {
    return {
      backgroundColor: "transparent",
      title: empty
        ? { text: data.msgEmpty, left: "center", top: "middle", textStyle: { fontSize: 14 } }
        : { show: false },
    };
  }

  // Tooltip lines built as text nodes: names come from the store and are never HTML.
  function tooltipBox(title, lines) {
    const box = document.createElement("div");
    const heading = document.createElement("strong");
    heading.textContent = title;
    box.appendChild(heading);
    for (const line of lines) {
      box.appendChild(document.createElement("br"));
      box.appendChild(document.createTextNode(line));
    }
    return box;
  }

  function percent(rate) {
    return rate === null || rate === undefined ? null : Math.round(rate * 1000) / 10;
  }

  function drawTrend(series) {
    const hourly = series.unit === "hour";
    document.getElementById("trend-range").textContent =
      hourly ? data.msgHourly : data.msgDaily;
    const labels = series.buckets.map(function (start) {
      return hourly ? start.slice(11, 16) : start.slice(5, 10);
    });
    const bars = Object.keys(series.accepted).map(function (channel) {
      return { name: channelName(channel), type: "bar", stack: "accepted",
        emphasis: { focus: "series" }, data: series.accepted[channel] };
    });
    const empty = !bars.length && !series.closed.some(Boolean);
    charts.trend.setOption(Object.assign(base(empty), {
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0, type: "scroll" },
      xAxis: { type: "category", data: labels },
      yAxis: { type: "value", minInterval: 1 },
      series: bars.concat([
        { name: data.msgClosed, type: "line", symbolSize: 5, z: 3, data: series.closed },
        { name: data.msgOnTimeClosed, type: "line", symbolSize: 5, z: 3,
          lineStyle: { type: "dashed" }, data: series.closed_on_time },
      ]),
    }), true);
  }

  function drawClasses(classes) {
    const ranked = classes.slice().reverse();  // the most frequent at the top
    charts.classes.setOption(Object.assign(base(!classes.length), {
      grid: { left: 8, right: 40, top: 8, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: ranked.map(function (c) { return c.name; }),
        axisLabel: { interval: 0, width: 130, overflow: "truncate" } },
      series: [{ name: data.msgAccepted, type: "bar", label: { show: true, position: "right" },
        data: ranked.map(function (c) { return c.accepted; }) }],
    }), true);
  }

  function drawDepartments(departments) {
    const ranked = departments.slice().reverse();  // the best rate at the top
    charts.departments.setOption(Object.assign(base(!departments.length), {
      grid: { left: 8, right: 40, top: 28, bottom: 8, containLabel: true },
      tooltip: {
        trigger: "axis",
        axisPointer: { type: "shadow" },
        formatter: function (items) {
          const row = ranked[items[0].dataIndex];
          const rate = percent(row.on_time_closing_rate);
          return tooltipBox(row.name, [
            data.msgOnTime + ": " + (rate === null ? "–" : rate),
            data.msgOverdue + ": " + row.overdue,
            data.msgOpen + ": " + row.open,
            data.msgClosed + ": " + row.closed,
          ]);
        },
      },
      legend: { top: 0, data: [data.msgOnTime, data.msgOverdue] },
      yAxis: { type: "category", data: ranked.map(function (d) { return d.name; }),
        axisLabel: { interval: 0, width: 150, overflow: "truncate" } },
      xAxis: [{ type: "value", max: 100 },
        { type: "value", position: "top", show: false, minInterval: 1 }],
      series: [
        { name: data.msgOnTime, type: "bar", label: { show: true, position: "right" },
          data: ranked.map(function (d) { return percent(d.on_time_closing_rate); }) },
        { name: data.msgOverdue, type: "bar", xAxisIndex: 1, itemStyle: { color: RED },
          data: ranked.map(function (d) { return d.overdue; }) },
      ],
    }), true);
  }

  function drawChannels(channels) {
    charts.channels.setOption(Object.assign(base(!channels.length), {
      tooltip: { trigger: "item" },
      series: [{ type: "pie", radius: ["35%", "70%"], data: channels.map(function (c) {
        return { name: channelName(c.channel), value: c.accepted };
      }) }],
    }), true);
  }

  function drawCharts(found) {
    drawTrend(found.series);
    drawClasses(found.top_classes);
    drawDepartments(found.departments);
    drawChannels(found.channels);
  }

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
      drawCharts(found);
      await drawMap(situation.children);
      if (mine === ticket) {
        status.textContent = "";
        root.dataset.state = "ready";
        root.dataset.division = division() || "";
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
    if (chartTheme !== (dark ? "dark" : "default")) {
      chartTheme = dark ? "dark" : "default";
      for (const chart of Object.values(charts)) {
        chart.setTheme(chartTheme);
      }
    }
    themeToggle.setAttribute("aria-pressed", dark ? "true" : "false");
    themeToggle.textContent = dark ? data.msgThemeLight : data.msgThemeDark;
    try {
      localStorage.setItem("cityops-theme", dark ? "dark" : "light");
    } catch (ignored) { /* private mode: the choice lasts for this page only */ }
  }
  themeToggle.addEventListener("click", function () {
    applyTheme(document.documentElement.dataset.theme !== "dark");
  });
  applyTheme(storedDark());

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
    if (!pending) {  // many events at once: one refresh of the figures
      pending = setTimeout(function () {
        pending = null;
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
