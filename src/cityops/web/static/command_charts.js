/* The command center's charts (Apache ECharts, vendored): the trend by channel with closures,
 * the top matter classes, the department leaderboard (按期结案率 and overdue) and the channels.
 * command.js creates them with the page's dataset (messages) and draws each refresh's data.
 * Names come from the store: tooltips are built from text nodes, never HTML.
 */
(function () {
  "use strict";

  window.cityopsCommandCharts = function (data) {
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

    // Follow the page's theme (a theme set before the first option does not hold, hence
    // the charts start in the stored one).
    function setDark(dark) {
      if (chartTheme !== (dark ? "dark" : "default")) {
        chartTheme = dark ? "dark" : "default";
        for (const chart of Object.values(charts)) {
          chart.setTheme(chartTheme);
        }
      }
    }

    return { draw: drawCharts, setDark: setDark, storedDark: storedDark };
  };
})();
