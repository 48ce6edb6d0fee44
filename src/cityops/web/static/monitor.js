/* 监测总览: the city's monitoring at a glance.
 *
 * Tiles: the AQI now (HJ 633 hourly report of the district, or the worst district), the noise
 * monitors that met their GB 3096 limits yesterday, the share of water stations in GB 3838
 * classes I–III, the traffic index (TPI) and the devices online. The map (monitor_map.js) colours
 * the air stations — or the streets or districts — by AQI level, with noise, water and traffic
 * overlays. Charts: AQI by station, the TPI gauge, water classes and noise compliance. The alert
 * panel counts the open alerts by warning level (I 红 II 橙 III 黄 IV 蓝) and lists the most
 * severe; it follows the live feed (AlertRaised, AlertAcknowledged, AlertResolved,
 * AlertCaseOpened) for those with events:read and polls otherwise. The device table links each
 * device's page. Data: /api/v1/indices/{air,noise,water,traffic}, /api/v1/things,
 * /api/v1/datastreams, /api/v1/alerts/summary and /api/v1/alerts. Text from the store is set as
 * text, never HTML.
 */
(function () {
  "use strict";

  const root = document.getElementById("monitor");
  if (!root || !window.cityops || !window.L || !window.echarts || !window.cityopsMonitorMap) {
    return;
  }
  const { msg, api, el, when } = window.cityops;
  const data = root.dataset;
  const english = document.documentElement.lang === "en";
  const status = document.getElementById("monitor-status");
  const NA = "#B0BEC5";
  const LEVELS = ["I", "II", "III", "IV"];
  const ALERT_LIST = 8;
  const map = window.cityopsMonitorMap(root, { msg, api, el });

  const charts = {};
  for (const name of ["aqi", "traffic", "water", "noise"]) {
    charts[name] = echarts.init(document.getElementById("chart-" + name));
  }
  window.addEventListener("resize", function () {
    for (const chart of Object.values(charts)) {
      chart.resize();
    }
  });

  const or = (promise) => promise.catch(() => null);  // one part failing leaves the others
  const hour = (iso) => (iso ? when(iso).slice(11) : "");

  // --- tiles ------------------------------------------------------------------------------------

  function tile(name, number, sub, note, color) {
    const element = root.querySelector('[data-tile="' + name + '"]');
    element.querySelector(".tile-number").textContent = number;
    element.querySelector(".tile-sub").textContent = sub || "";
    element.querySelector(".tile-note").textContent = note || "";
    const swatch = element.querySelector(".swatch");
    if (swatch) {
      swatch.style.backgroundColor = color || "transparent";
      swatch.hidden = !color;
    }
  }

  function airTile(districts, stations) {
    if (!districts) {
      tile("air", "–", msg("monitor.failed"));
      return;
    }
    const known = (item) => item.aqi && item.aqi.aqi !== null && item.aqi.aqi !== undefined;
    const ranked = districts.items.slice().sort((a, b) =>
      (known(b) ? b.aqi.aqi : -1) - (known(a) ? a.aqi.aqi : -1));
    const worst = ranked[0];
    const valid = stations ? stations.items.filter(known).length : 0;
    const total = stations ? stations.items.length : 0;
    const note = msg("monitor.air.note", { time: hour(districts.at), valid, total });
    if (!worst || !known(worst)) {
      tile("air", "–", msg("monitor.aqi.na"), note);
      return;
    }
    const category = english ? worst.aqi.category_en : worst.aqi.category;
    const primary = (worst.aqi.primary_pollutants || []).join("、");
    tile("air", String(worst.aqi.aqi), category + (primary ? " · " + primary : ""), note,
      worst.color);
    root.dataset.aqi = String(worst.aqi.aqi);
  }

  function noiseTile(noise) {
    if (!noise) {
      tile("noise", "–", msg("monitor.failed"));
      return;
    }
    const counts = { day: [0, 0], night: [0, 0], all: [0, 0] };
    for (const item of noise.items) {
      const assessment = item.assessment || {};
      for (const period of ["day", "night"]) {
        const judged = assessment[period];
        if (judged && judged.complies !== null && judged.complies !== undefined) {
          counts[period][1] += 1;
          counts[period][0] += judged.complies ? 1 : 0;
        }
      }
      if (assessment.complies !== null && assessment.complies !== undefined) {
        counts.all[1] += 1;
        counts.all[0] += assessment.complies ? 1 : 0;
      }
    }
    const [good, judged] = counts.all;
    tile("noise", judged ? good + "/" + judged : "–",
      msg("monitor.noise.compliance", { day: counts.day.join("/"), night: counts.night.join("/") }),
      msg("monitor.noise.note", { day: noise.day }),
      judged ? (good === judged ? "#2e7d32" : "#c62828") : null);
    drawNoise(counts);
    document.getElementById("noise-day").textContent = noise.day;
  }

  function waterTile(water) {
    if (!water) {
      tile("water", "–", msg("monitor.failed"));
      return;
    }
    const assessed = water.items.filter((i) => i.assessment && i.assessment.class);
    const good = assessed.filter((i) => i.assessment.ordinal <= 3).length;
    const worst = assessed.slice().sort((a, b) => b.assessment.ordinal - a.assessment.ordinal)[0];
    tile("water", assessed.length ? Math.round((good * 100) / assessed.length) + "%" : "–",
      worst ? msg("monitor.water.worst", { name: worst.assessment.class }) : msg("monitor.na"),
      msg("monitor.water.note", { assessed: assessed.length, total: water.items.length }),
      worst ? worst.color : null);
    drawWater(assessed);
  }

  function trafficTile(traffic) {
    if (!traffic) {
      tile("traffic", "–", msg("monitor.failed"));
      return;
    }
    const network = traffic.network;
    const links = traffic.links.filter((l) => l.level).length;
    const note = msg("monitor.traffic.note", { links, total: traffic.links.length }) +
      (traffic.verified ? "" : " · " + msg("monitor.traffic.unverified"));
    if (!network) {
      tile("traffic", "–", msg("monitor.traffic.none"), note);
    } else {
      tile("traffic", network.tpi.toFixed(1),
        english ? network.level.name_en : network.level.name, note, network.level.hex);
    }
    drawTraffic(network);
  }

  // --- charts -----------------------------------------------------------------------------------

  function base(empty) {
    return {
      backgroundColor: "transparent",
      title: empty
        ? { text: msg("monitor.chart.empty"), left: "center", top: "middle",
          textStyle: { fontSize: 14 } }
        : { show: false },
    };
  }

  function drawAqi(stations) {
    const known = (stations ? stations.items : []).filter((i) => i.aqi && i.aqi.aqi !== null &&
      i.aqi.aqi !== undefined).sort((a, b) => a.aqi.aqi - b.aqi.aqi);  // the worst at the top
    charts.aqi.setOption(Object.assign(base(!known.length), {
      grid: { left: 8, right: 40, top: 8, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: known.map((i) => i.name),
        axisLabel: { interval: 0, width: 140, overflow: "truncate" } },
      series: [{ name: "AQI", type: "bar", label: { show: true, position: "right" },
        data: known.map((i) => ({ value: i.aqi.aqi,
          itemStyle: { color: i.color || NA, borderColor: "#455a64", borderWidth: 1 } })) }],
    }), true);
  }

  function drawTraffic(network) {
    charts.traffic.setOption(Object.assign(base(!network), {
      series: network ? [{
        type: "gauge", min: 0, max: 10, splitNumber: 5, radius: "95%", center: ["50%", "60%"],
        startAngle: 200, endAngle: -20,
        progress: { show: true, width: 14, itemStyle: { color: network.level.hex } },
        axisLine: { lineStyle: { width: 14 } },
        pointer: { width: 4 },
        detail: { valueAnimation: false, fontSize: 22, offsetCenter: [0, "35%"],
          formatter: (value) => value.toFixed(1) },
        title: { offsetCenter: [0, "70%"] },
        data: [{ value: network.tpi,
          name: english ? network.level.name_en : network.level.name }],
      }] : [],
    }), true);
  }

  function drawWater(assessed) {
    const classes = ["I", "II", "III", "IV", "V", "劣V"];
    const colors = new Map(assessed.map((i) => [i.assessment.class, i.color]));
    const counts = classes.map((name) => ({
      value: assessed.filter((i) => i.assessment.class === name).length,
      itemStyle: { color: colors.get(name) || NA, borderColor: "#455a64", borderWidth: 1 },
    }));
    charts.water.setOption(Object.assign(base(!assessed.length), {
      grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "category",
        data: classes.map((name) => msg("monitor.water.class", { name })) },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ name: msg("monitor.chart.stations"), type: "bar", data: counts,
        label: { show: true, position: "top" } }],
    }), true);
  }

  function drawNoise(counts) {
    const periods = ["day", "night"];
    const empty = !counts.day[1] && !counts.night[1];
    charts.noise.setOption(Object.assign(base(empty), {
      grid: { left: 8, right: 16, top: 28, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0 },
      yAxis: { type: "category", data: periods.map((p) => msg("monitor.noise." + p)) },
      xAxis: { type: "value", minInterval: 1 },
      series: [
        { name: msg("monitor.noise.complies"), type: "bar", stack: "all",
          itemStyle: { color: "#2e7d32" }, label: { show: true },
          data: periods.map((p) => counts[p][0]) },
        { name: msg("monitor.noise.exceeds"), type: "bar", stack: "all",
          itemStyle: { color: "#c62828" }, label: { show: true },
          data: periods.map((p) => counts[p][1] - counts[p][0]) },
      ],
    }), true);
  }

  // --- devices ----------------------------------------------------------------------------------

  function online(value) {
    const badge = el("span", { class: "state state-" + (value ? "online" : "offline") });
    badge.append(el("span", { class: "dot", "aria-hidden": "true" }),
      el("span", {}, msg(value ? "monitor.devices.online" : "monitor.devices.offline")));
    return badge;
  }

  function drawDevices(things, streams) {
    const body = document.querySelector("#devices tbody");
    if (!things || !streams) {
      tile("devices", "–", msg("monitor.failed"));
      body.replaceChildren();
      return;
    }
    const byThing = new Map();
    for (const stream of streams) {
      const list = byThing.get(stream.thing_id) || [];
      list.push(stream);
      byThing.set(stream.thing_id, list);
    }
    let up = 0;
    const rows = things.slice().sort((a, b) => a.key.localeCompare(b.key)).map(function (thing) {
      const own = byThing.get(thing.id) || [];
      const isOnline = own.some((s) => s.online);
      up += isOnline ? 1 : 0;
      const newest = own.map((s) => (s.latest ? s.latest.time : "")).sort().pop();
      const row = el("tr", { "data-device": thing.key, "data-online": isOnline ? "true" : "false",
        "data-search": (thing.key + " " + thing.name).toLowerCase() });
      const stateCell = el("td");
      stateCell.append(online(isOnline));
      const keyCell = el("td", { class: "code" });
      keyCell.append(el("a", { href: "/devices/" + encodeURIComponent(thing.key) }, thing.key));
      row.append(stateCell, keyCell, el("td", {}, thing.name),
        el("td", {}, own.length), el("td", {}, when(newest)));
      return row;
    });
    body.replaceChildren(...rows);
    filterDevices();
    tile("devices", String(up), msg("monitor.devices.of", { total: things.length }),
      msg("monitor.devices.note"));
    root.dataset.devicesOnline = String(up);
    root.dataset.devicesTotal = String(things.length);
  }

  function filterDevices() {
    const wanted = document.getElementById("device-filter").value.trim().toLowerCase();
    for (const row of document.querySelectorAll("#devices tbody tr")) {
      row.hidden = Boolean(wanted) && !row.dataset.search.includes(wanted);
    }
  }
  document.getElementById("device-filter").addEventListener("input", filterDevices);

  // --- alerts -----------------------------------------------------------------------------------

  function levelBadge(alert) {
    const badge = el("span", { class: "level level-" + alert.level });
    badge.append(el("span", { class: "level-dot", "aria-hidden": "true" }),
      el("span", {}, msg("alerts.level." + alert.level)));
    return badge;
  }

  function alertItem(alert) {
    const item = el("li", { "data-alert": alert.id, "data-level": alert.level,
      "data-status": alert.status });
    const device = alert.subject.split("/")[0];
    const subject = el("a", { href: "/devices/" + encodeURIComponent(device) }, alert.subject);
    item.append(levelBadge(alert), document.createTextNode(" "), subject,
      el("span", { class: "muted" }, " · " + msg("alerts.status." + alert.status) + " · " +
        when(alert.last_seen_at || alert.raised_at)),
      el("p", { class: "alert-message" }, alert.message));
    return item;
  }

  let alertTicket = 0;
  async function loadAlerts() {
    if (data.alerts === "off") {
      return;
    }
    const mine = ++alertTicket;
    try {
      const [summary, open] = await Promise.all([
        api("/api/v1/alerts/summary"),
        api("/api/v1/alerts?status=open&limit=" + ALERT_LIST),
      ]);
      if (mine !== alertTicket) {
        return;
      }
      for (const level of LEVELS) {
        root.querySelector('.level-count[data-level="' + level + '"] .level-number').textContent =
          String(summary.open_by_level[level] || 0);
      }
      const list = document.getElementById("alert-list");
      list.replaceChildren(...open.map(alertItem));
      if (!open.length) {
        list.append(el("li", { class: "muted" }, msg("monitor.alerts.none")));
      }
      const total = LEVELS.reduce((n, level) => n + (summary.open_by_level[level] || 0), 0);
      root.dataset.alertsOpen = String(total);
      root.dataset.alerts = "ready";
    } catch (error) {
      if (mine === alertTicket) {
        root.dataset.alerts = "failed";
        status.textContent = msg("monitor.failed");
      }
    }
  }

  // --- putting it together ----------------------------------------------------------------------

  let ticket = 0;
  async function refresh() {
    const mine = ++ticket;
    const [stations, districts, noise, water, traffic, things, streams] = await Promise.all([
      or(api("/api/v1/indices/air?report=hourly&group_by=station")),
      or(api("/api/v1/indices/air?report=hourly&group_by=district")),
      or(api("/api/v1/indices/noise")),
      or(api("/api/v1/indices/water")),
      or(api("/api/v1/indices/traffic")),
      or(api("/api/v1/things")),
      or(api("/api/v1/datastreams")),
    ]);
    if (mine !== ticket) {
      return;
    }
    airTile(districts, stations);
    noiseTile(noise);
    waterTile(water);
    trafficTile(traffic);
    drawAqi(stations);
    drawDevices(things, streams);
    const parts = [stations, districts, noise, water, traffic, things, streams];
    try {
      await map.draw({ air: stations || { items: [] }, noise, water, traffic });
    } catch (error) {
      parts.push(null);
    }
    if (mine !== ticket) {
      return;
    }
    const failed = parts.filter((part) => part === null).length;
    status.textContent = failed ? msg("monitor.failed")
      : msg("monitor.updated", { time: when(new Date().toISOString()) });
    root.dataset.state = failed === parts.length ? "failed" : "ready";
  }

  document.getElementById("group-by").addEventListener("change", function (event) {
    map.group(event.target.value);
  });

  // Live alerts: the event stream from the newest event at page load (EventSource resumes from
  // the last id it saw), several events at once giving one reload; without events:read, a poll.
  let pending = null;
  function soon() {
    if (!pending) {
      pending = setTimeout(function () {
        pending = null;
        loadAlerts();
      }, 300);
    }
  }
  if (data.alerts !== "off") {
    if (data.live === "on") {
      const after = encodeURIComponent(data.eventsAfter || "0");
      const stream = new EventSource("/api/v1/events/stream?after=" + after);
      for (const type of ["AlertRaised", "AlertAcknowledged", "AlertResolved", "AlertCaseOpened"]) {
        stream.addEventListener(type, soon);
      }
    } else {
      setInterval(loadAlerts, (Number(data.poll) || 30) * 1000);
    }
  }
  setInterval(refresh, (Number(data.refresh) || 60) * 1000);

  loadAlerts();
  refresh();
})();
