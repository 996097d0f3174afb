// winback dashboard: small progressive enhancements. Pages work without this file (the CSP forbids inline script).
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  // The menu button shows and hides the navigation on narrow screens.
  function navigation() {
    var button = document.querySelector(".nav-toggle");
    var nav = document.getElementById("main-nav");
    if (!button || !nav) { return; }
    button.addEventListener("click", function () {
      var open = nav.classList.toggle("open");
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  // Forms with data-confirm ask first (stopping a programme cannot be undone).
  function confirmations() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
  }

  // Buttons are disabled once a form is sent, so a slow action is not started twice.
  function singleSubmit() {
    document.querySelectorAll("form[method=post]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (event.defaultPrevented) { return; }
        window.setTimeout(function () {  // after the form data (with the pressed button) is taken
          form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
        }, 0);
      });
    });
  }

  var COLOURS = { new: "#4c8df6", active: "#2e9d48", at_risk: "#e6a100", dormant: "#d9534f",
                  churned: "#7a7a7a", reactivated: "#7b5cd6" };

  // The stages-over-time chart, from the JSON the page embeds (drawn with the vendored Chart.js).
  function stageChart() {
    var data = document.getElementById("stage-chart-data");
    var canvas = document.getElementById("stage-chart");
    if (!data || !canvas) { return; }
    var chart = JSON.parse(data.textContent);
    if (!chart.labels.length) { canvas.parentElement.hidden = true; return; }
    var script = document.createElement("script");
    script.src = "/app/static/vendor/chart.umd.js";
    script.onload = function () {
      new window.Chart(canvas, {
        type: "line",
        data: {
          labels: chart.labels,
          datasets: chart.series.map(function (s) {
            return { label: s.label, data: s.values, borderColor: COLOURS[s.stage] || "#333",
                     backgroundColor: COLOURS[s.stage] || "#333", tension: 0.2, pointRadius: 3 };
          })
        },
        options: { responsive: true, maintainAspectRatio: false, animation: false,
                   interaction: { mode: "index", intersect: false },
                   scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
      });
      canvas.setAttribute("data-drawn", "true");
    };
    document.head.appendChild(script);
  }

  ready(function () {
    navigation();
    confirmations();
    singleSubmit();
    stageChart();
  });
})();
