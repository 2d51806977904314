// Billow billing portal: small enhancements of pages that work without this file.
// - the usage chart's tooltip, on hover and from the keyboard (arrow keys);
// - the trends filters submit themselves when they change; the custom dates show only
//   for a custom range;
// - Graph / Table switches in place, keeping the URL the links would have loaded.
// Text goes in with textContent only: nothing read from the page is parsed as HTML.
"use strict";

(function () {
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // --- chart tooltip ---
  function setupChart(chart) {
    var tip = chart.querySelector("[data-tooltip]");
    var slots = Array.prototype.slice.call(chart.querySelectorAll(".slot"));
    if (!tip || slots.length === 0) return;
    var active = -1;
    // A chart wider than the screen starts at its latest buckets.
    var scroller = chart.querySelector(".chart-scroll");
    if (scroller) scroller.scrollLeft = scroller.scrollWidth;

    function row(label, value, key) {
      var r = el("div", "tt-row");
      var name = el("span");
      if (key) name.appendChild(el("i", "key " + key));
      name.appendChild(document.createTextNode(label));
      r.appendChild(name);
      r.appendChild(el("strong", "", value));
      return r;
    }

    function show(i, fromKeyboard) {
      var s = slots[i];
      if (!s) return;
      // On a narrow screen the chart scrolls: bring the bucket the keys reached into view.
      if (fromKeyboard && s.scrollIntoView) s.scrollIntoView({block: "nearest", inline: "nearest"});
      if (active >= 0 && slots[active]) slots[active].classList.remove("active");
      active = i;
      s.classList.add("active");
      tip.textContent = "";
      tip.appendChild(el("div", "tt-date", s.getAttribute("data-date")));
      if (s.hasAttribute("data-billing")) tip.appendChild(row("Billing sessions", s.getAttribute("data-billing"), "key-billing"));
      if (s.hasAttribute("data-voice")) tip.appendChild(row("Voice sessions", s.getAttribute("data-voice"), "key-voice"));
      if (s.hasAttribute("data-agents")) tip.appendChild(row("Agents", s.getAttribute("data-agents")));
      tip.hidden = false;
      // Place the tooltip beside the bucket, inside the chart's box.
      var box = chart.getBoundingClientRect();
      var r = s.getBoundingClientRect();
      var left = r.left - box.left + r.width / 2 + 12;
      if (left + tip.offsetWidth > box.width) left = r.left - box.left + r.width / 2 - tip.offsetWidth - 12;
      tip.style.left = Math.max(0, left) + "px";
      tip.style.top = "8px";
    }

    function hide() {
      if (active >= 0 && slots[active]) slots[active].classList.remove("active");
      active = -1; // the keyboard starts again from the latest bucket
      tip.hidden = true;
    }

    slots.forEach(function (s, i) {
      s.addEventListener("mouseenter", function () { show(i); });
      // The native <title> would show beside ours: keep it for no-script only.
      var t = s.querySelector("title");
      if (t) { s.setAttribute("data-title", t.textContent); t.remove(); }
    });
    chart.addEventListener("mouseleave", hide);
    chart.addEventListener("blur", hide);
    chart.addEventListener("focus", function () { show(active >= 0 ? active : slots.length - 1, true); });
    chart.addEventListener("keydown", function (e) {
      var i = active >= 0 ? active : slots.length - 1;
      switch (e.key) {
        case "ArrowLeft": i = Math.max(0, i - 1); break;
        case "ArrowRight": i = Math.min(slots.length - 1, i + 1); break;
        case "Home": i = 0; break;
        case "End": i = slots.length - 1; break;
        case "Escape": hide(); return;
        default: return;
      }
      e.preventDefault();
      show(i, true);
    });
  }

  // --- trends filters ---
  function setupFilters(form) {
    var range = form.querySelector("select[name=range]");
    var custom = form.querySelectorAll("[data-custom]");
    function sync() {
      var on = range && range.value === "custom";
      custom.forEach(function (f) {
        f.hidden = !on;
        // Hidden dates are not sent: the URL of a preset says only what it means.
        f.querySelectorAll("input").forEach(function (i) { i.disabled = !on; });
      });
    }
    sync();
    form.querySelectorAll("select").forEach(function (s) {
      s.addEventListener("change", function () {
        sync();
        if (s !== range || range.value !== "custom") form.requestSubmit ? form.requestSubmit() : form.submit();
      });
    });
  }

  // --- graph / table ---
  function setupViews(section) {
    var links = section.querySelectorAll("[data-view]");
    var input = section.querySelector("[data-view-input]");
    links.forEach(function (a) {
      a.addEventListener("click", function (e) {
        var view = a.getAttribute("data-view");
        e.preventDefault();
        section.querySelectorAll("[data-panel]").forEach(function (p) {
          p.hidden = p.getAttribute("data-panel") !== view;
        });
        links.forEach(function (l) {
          if (l === a) l.setAttribute("aria-current", "true"); else l.removeAttribute("aria-current");
        });
        if (input) input.value = view;
        if (window.history && history.replaceState) history.replaceState(null, "", a.getAttribute("href"));
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-chart]").forEach(setupChart);
    document.querySelectorAll("[data-trends-filters]").forEach(setupFilters);
    var trends = document.getElementById("trends");
    if (trends) setupViews(trends);
  });
})();
