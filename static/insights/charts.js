/*
 * Draws every chart of the page from its JSON (core.charts.Chart, rendered by
 * templates/insights/_chart.html with json_script), with Chart.js (vendored).
 *
 * Colours come from the admin's CSS variables, read again when the theme changes (the admin's
 * toggle sets data-theme on <html>; "auto" follows the system), so charts follow dark mode.
 * No inline script and no eval: the page's Content-Security-Policy may forbid both.
 */
(function () {
  "use strict";

  // Distinct hues that read on light and dark backgrounds; the first is the admin's own link colour.
  var PALETTE = ["--link-fg", "#e67e22", "#8e44ad", "#16a085", "#c0392b", "#7f8c8d"];
  var charts = [];

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function colour(index) {
    var entry = PALETTE[index % PALETTE.length];
    return entry.indexOf("--") === 0 ? cssVar(entry, "#447e9b") : entry;
  }

  function config(spec) {
    var text = cssVar("--body-fg", "#333");
    var grid = cssVar("--hairline-color", "#e8e8e8");
    var stacked = spec.kind === "stacked";
    var hasRates = spec.series.some(function (series) {
      return series.axis === "rate";
    });
    var datasets = spec.series.map(function (series, index) {
      var kind = series.kind === "stacked" ? "bar" : series.kind;
      return {
        type: kind,
        label: series.label,
        data: series.data,
        borderColor: colour(index),
        backgroundColor: kind === "line" ? colour(index) : colour(index) + "cc",
        borderWidth: kind === "line" ? 2 : 0,
        pointRadius: kind === "line" && spec.labels.length > 48 ? 0 : 2,
        spanGaps: true,
        tension: 0.2,
        yAxisID: series.axis === "rate" ? "rate" : "count",
        xAxisID: "x",
        order: kind === "line" ? 0 : 1
      };
    });
    var scales = {
      x: { stacked: stacked, ticks: { color: text, autoSkip: true, maxRotation: 0 }, grid: { color: grid } },
      count: {
        stacked: stacked,
        beginAtZero: true,
        position: "left",
        ticks: { color: text, precision: 0 },
        grid: { color: grid }
      }
    };
    if (hasRates) {
      scales.rate = {
        beginAtZero: true,
        position: "right",
        ticks: {
          color: text,
          callback: function (value) {
            return value + " %";
          }
        },
        grid: { drawOnChartArea: false }
      };
    }
    if (spec.horizontal) {
      // Bars along x, categories down the y axis.
      scales = {
        y: { stacked: stacked, ticks: { color: text }, grid: { color: grid } },
        count: { stacked: stacked, axis: "x", beginAtZero: true, ticks: { color: text, precision: 0 }, grid: { color: grid } }
      };
      datasets.forEach(function (dataset) {
        dataset.xAxisID = "count";
        dataset.yAxisID = "y";
      });
    }
    return {
      type: datasets.length ? datasets[0].type : "line",
      data: { labels: spec.labels, datasets: datasets },
      options: {
        indexAxis: spec.horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { labels: { color: text } },
          tooltip: { enabled: true }
        },
        scales: scales
      }
    };
  }

  function draw() {
    charts.forEach(function (chart) {
      chart.destroy();
    });
    charts = [];
    document.querySelectorAll("[data-insights-chart]").forEach(function (figure) {
      var source = document.getElementById(figure.dataset.insightsChart);
      var canvas = figure.querySelector("canvas");
      if (!source || !canvas || typeof window.Chart === "undefined") {
        return;
      }
      var spec = JSON.parse(source.textContent);
      var chart = new window.Chart(canvas, config(spec));
      charts.push(chart);
      figure.dataset.drawn = "true";
      figure.dataset.series = spec.series
        .map(function (series) {
          return series.key;
        })
        .join(" ");
    });
  }

  // The admin's theme toggle writes data-theme on <html>; the system preference drives "auto".
  new MutationObserver(draw).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", draw);

  // Exposed for pages that switch a chart's data (the hourly / daily timeline toggle).
  window.insightsCharts = { redraw: draw };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
